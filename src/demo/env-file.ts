import { existsSync, readFileSync } from 'node:fs';

/**
 * Reads a dotenv-style file such as `.env.example`: `NAME=value` lines, `#` comments and blank
 * lines skipped, one pair of surrounding quotes removed. An absent file gives no variables.
 */
export function readEnvFile(path: string | URL): Record<string, string> {
  if (!existsSync(path)) return {};
  const variables: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trimStart().startsWith('#')) continue;
    const value = match[2]!;
    variables[match[1]!] = /^(["']).*\1$/.test(value) ? value.slice(1, -1) : value;
  }
  return variables;
}
