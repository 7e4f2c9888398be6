import { loadConfig } from '../config';
import { ALL_ROLES, resolveAuthSecret, Role, signToken } from '../common/auth';

/** `npm run token -- --role PRIVACY_OFFICER [--role AUDITOR] --subject ana [--expires 12h]`: prints a token and nothing else. */
export async function tokenCommand(argv: string[]): Promise<number> {
  const roles: Role[] = [];
  let subject: string | undefined;
  let expires = '12h';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--role' || arg === '-r') roles.push(...value().split(',').map((r) => r.trim().toUpperCase() as Role));
    else if (arg === '--subject' || arg === '-s') subject = value();
    else if (arg === '--expires') expires = value();
    else if (arg === '--help' || arg === '-h') {
      process.stderr.write(`Usage: npm run token -- --role ROLE[,ROLE] --subject NAME [--expires 12h]\nRoles: ${ALL_ROLES.join(', ')}\n`);
      return 0;
    } else throw new Error(`unknown option ${arg}`);
  }
  const unknown = roles.filter((r) => !ALL_ROLES.includes(r));
  if (roles.length === 0 || unknown.length) throw new Error(`--role must be one of ${ALL_ROLES.join(', ')}${unknown.length ? ` (got ${unknown.join(', ')})` : ''}`);
  if (!subject) throw new Error('--subject is required');
  const secret = resolveAuthSecret(loadConfig());
  process.stdout.write(`${await signToken(secret, subject, roles, expires)}\n`);
  return 0;
}

if (require.main === module) {
  tokenCommand(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`token: ${err instanceof Error ? err.message : err}\n`);
      process.exit(2);
    },
  );
}
