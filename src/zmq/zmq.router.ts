/** An `@EventPattern` pattern that is not a valid topic pattern. */
export class ZmqPatternError extends Error {
  override readonly name = 'ZmqPatternError';
}

interface WildcardRoute<H> {
  tokens: string[];
  /** `>` as last token: matches one or more further tokens. */
  tail: boolean;
  handler: H;
}

const NO_HANDLERS: readonly never[] = Object.freeze([]);
const MATCH_CACHE_LIMIT = 10_000;
/** Longer topics are matched afresh each time: a peer sending distinct huge topics must not fill memory. */
const MATCH_CACHE_MAX_TOPIC_LENGTH = 256;

function isWildcard(token: string): boolean {
  return token === '*' || token === '>';
}

/**
 * Maps topics to handlers. A pattern without wildcards matches its topic exactly, although
 * ZeroMQ's subscription is a byte prefix (`hello` also lets `helloX` through). NATS-style
 * wildcards: `*` is one dot-separated token, `>` one or more trailing tokens; the ZeroMQ
 * subscription is their literal prefix.
 */
export class TopicRouter<H> {
  private readonly exact = new Map<string, H[]>();
  private readonly wildcards: WildcardRoute<H>[] = [];
  private readonly cache = new Map<string, readonly H[]>();
  /** The ZeroMQ subscriptions that cover every pattern, without redundant ones. */
  readonly subscriptions: string[];

  constructor(routes: Iterable<readonly [pattern: string, handler: H]>) {
    const prefixes = new Set<string>();
    for (const [pattern, handler] of routes) {
      if (pattern.length === 0) throw new ZmqPatternError('An event pattern cannot be empty.');
      const tokens = pattern.split('.');
      const first = tokens.findIndex(isWildcard);
      if (first === -1) {
        this.exact.set(pattern, [...(this.exact.get(pattern) ?? []), handler]);
        prefixes.add(pattern);
        continue;
      }
      const tailAt = tokens.indexOf('>');
      if (tailAt !== -1 && tailAt !== tokens.length - 1) {
        throw new ZmqPatternError(`Invalid pattern "${pattern}": ">" may only be the last token.`);
      }
      this.wildcards.push({ tokens, tail: tailAt !== -1, handler });
      prefixes.add(
        tokens
          .slice(0, first)
          .map((token) => `${token}.`)
          .join(''),
      );
    }
    this.subscriptions = [...prefixes].filter(
      (prefix) => ![...prefixes].some((other) => other !== prefix && prefix.startsWith(other)),
    );
  }

  /** Every handler for this topic, exact ones first; an empty array when none matches. */
  match(topic: string): readonly H[] {
    const exact = this.exact.get(topic);
    if (this.wildcards.length === 0) return exact ?? NO_HANDLERS;
    let found = this.cache.get(topic);
    if (found === undefined) {
      const tokens = topic.split('.');
      const matched = this.wildcards.filter((route) => matches(route, tokens)).map((route) => route.handler);
      found = exact ? [...exact, ...matched] : matched;
      if (topic.length <= MATCH_CACHE_MAX_TOPIC_LENGTH) {
        if (this.cache.size >= MATCH_CACHE_LIMIT) this.cache.clear();
        this.cache.set(topic, found);
      }
    }
    return found;
  }
}

function matches(route: WildcardRoute<unknown>, tokens: string[]): boolean {
  const { tokens: pattern, tail } = route;
  if (tail ? tokens.length < pattern.length : tokens.length !== pattern.length) return false;
  const fixed = tail ? pattern.length - 1 : pattern.length;
  for (let i = 0; i < fixed; i++) {
    if (pattern[i] !== '*' && pattern[i] !== tokens[i]) return false;
  }
  return true;
}
