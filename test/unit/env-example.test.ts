import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readEnvFile } from '../../src/demo/env-file.js';
import { resolveZmqOptions, ZMQ_DEFAULTS, ZMQ_ENV, zmqOptionsFromEnv } from '../../src/zmq/index.js';

const ENV_EXAMPLE = fileURLToPath(new URL('../../.env.example', import.meta.url));
const APP_VARIABLES = ['INSTANCE_NAME', 'HTTP_PORT'];

describe('.env.example', () => {
  const variables = readEnvFile(ENV_EXAMPLE);

  it('lists every variable the project reads, each under a comment', () => {
    const lines = readFileSync(ENV_EXAMPLE, 'utf8').split('\n');
    for (const name of [...Object.values(ZMQ_ENV), ...APP_VARIABLES]) {
      expect(Object.keys(variables)).toContain(name);
      const at = lines.findIndex((line) => line.startsWith(`${name}=`));
      expect(lines[at - 1], `comment above ${name}`).toMatch(/^# \S/);
    }
  });

  it('gives the library defaults, and a publisher on loopback with no subscription', () => {
    const options = resolveZmqOptions(zmqOptionsFromEnv((name) => variables[name]));
    expect(options).toMatchObject({ ...ZMQ_DEFAULTS, subAddresses: [] });
    expect(options.pubAddress).toBe('tcp://127.0.0.1:5555');
    expect(variables.INSTANCE_NAME).toBe('');
    expect(variables.HTTP_PORT).toBe('');
  });
});

describe('readEnvFile', () => {
  it('reads NAME=value lines, skips comments and blanks, unquotes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'env-file-'));
    try {
      const path = join(dir, '.env');
      writeFileSync(
        path,
        '# a comment\n\nA=1\r\nB = two words \nexport C="quoted, with # inside"\nD=\n#E=commented\nnot a line\n',
      );
      expect(readEnvFile(path)).toEqual({ A: '1', B: 'two words', C: 'quoted, with # inside', D: '' });
      expect(readEnvFile(join(dir, 'absent'))).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
