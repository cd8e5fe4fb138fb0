import { pathToFileURL } from 'node:url';
import { capability, curveKeyPair } from 'zeromq';

export interface CurveKeyPair {
  publicKey: string;
  secretKey: string;
}

/**
 * A fresh CURVE key pair. Pairs with a `$` are drawn again: `$NAME` in a value is expanded by
 * dotenv-expand (`ConfigModule` with `expandVariables`) and by Docker Compose.
 */
export function generateKeyPair(draw: () => CurveKeyPair = curveKeyPair): CurveKeyPair {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const pair = draw();
    if (!pair.publicKey.includes('$') && !pair.secretKey.includes('$')) return pair;
  }
  throw new Error('Could not draw a CURVE key pair without "$" in 1000 attempts.');
}

/** The pair as `.env` lines; single quotes because Z85 keys may contain `#`, which starts a comment. */
export function formatKeyPair({ publicKey, secretKey }: CurveKeyPair): string {
  return [
    '# CURVE key pair of one bus instance. Keep the secret key private; give the public key to the peers',
    '# (their ZMQ_CURVE_SERVER_KEYS to subscribe to this instance, their ZMQ_CURVE_CLIENT_KEYS to admit it).',
    `ZMQ_CURVE_PUBLIC_KEY='${publicKey}'`,
    `ZMQ_CURVE_SECRET_KEY='${secretKey}'`,
    '',
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (!capability.curve) {
    process.stderr.write('This zeromq build has no CURVE support (zeromq.capability.curve is false).\n');
    process.exitCode = 1;
  } else {
    process.stdout.write(formatKeyPair(generateKeyPair()));
  }
}
