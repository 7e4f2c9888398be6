import { version } from '../package.json';

/** The service's version (from package.json), reported in OpenLineage events and the start-up log. */
export const APP_VERSION: string = version;
