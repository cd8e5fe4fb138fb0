import { execFileSync } from 'node:child_process';

/**
 * Child-process tests run the compiled package (`dist/`), as users and `npm start` do: build it
 * once before any test file runs, so that they never race each other to write it.
 */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
}
