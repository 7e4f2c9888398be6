/** The access module: who sees which datasets and training runs (ML isolation). */
export { AccessService } from './access.service';
