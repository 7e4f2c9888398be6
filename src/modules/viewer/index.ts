/** The viewer module: who the caller is (`viewer`). */
export { ViewerResolver, ViewerInfo } from './viewer.resolver';
