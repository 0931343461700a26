/** What the helper below closes: a TestIssuer, an upstream, a gateway, an OAuth server… */
export interface Closable {
  close(): Promise<unknown> | unknown;
}

/**
 * STYLE §5, "register cleanup right after each start": registers one afterAll that closes,
 * last started first, everything passed to the returned function (which returns it).
 *
 * @example
 * const closing = closeAfterAll();
 * beforeAll(async () => {
 *   issuer = closing(await TestIssuer.start());
 *   gw = closing(await startTestGateway({ issuers: [issuer], routes }));
 * });
 */
export function closeAfterAll(): <T extends Closable>(resource: T) => T {
  const started: Closable[] = [];
  afterAll(async () => {
    for (const resource of started.reverse()) await resource.close();
  });
  return (resource) => {
    started.push(resource);
    return resource;
  };
}
