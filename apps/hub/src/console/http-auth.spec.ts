import type { Log } from '@muster/log';
import { Authenticator } from '../auth/authenticator';
import { TokenStore } from '../auth/token-store';
import { ErrorCode, MusterError } from '../common/errors';
import { authenticateHttp, httpError } from './http-auth';

const silent = { info: () => undefined, warn: () => undefined } as unknown as Log;
const auth = new Authenticator({
  tokens: TokenStore.fromText(`tokens:
  - name: ana
    token: ana-token-0123456789
    role: viewer
    queues: [research]
`),
  devInsecure: false,
  log: silent,
});

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (err: unknown) => (err instanceof MusterError ? err.code : String(err)),
  );

describe('authenticateHttp', () => {
  it('takes the caller from the Authorization header, as gRPC takes it from the metadata', async () => {
    const ana = await authenticateHttp(auth, {
      headers: { authorization: 'Bearer ana-token-0123456789' },
      peer: 'http:127.0.0.1',
    });
    expect(ana).toMatchObject({ name: 'ana', role: 'viewer' });
    expect([...ana.queues!]).toEqual(['research']);
  });

  it.each([
    ['no header', {}],
    ['an unknown token', { authorization: 'Bearer nope' }],
    ['another scheme', { authorization: 'Basic YW5hOnB3' }],
    ['a bare token', { authorization: 'ana-token-0123456789' }],
  ])('refuses %s as UNAUTHENTICATED', async (_what, headers) => {
    expect(await codeOf(authenticateHttp(auth, { headers, peer: 'http:x' }))).toBe(
      ErrorCode.Unauthenticated,
    );
  });

  it('lets every caller in as an admin in development mode without token sources', async () => {
    const dev = new Authenticator({ devInsecure: true, log: silent });
    await expect(authenticateHttp(dev, { headers: {}, peer: 'http:x' })).resolves.toMatchObject({
      role: 'admin',
      via: 'insecure',
    });
  });
});

describe('httpError', () => {
  it.each([
    [ErrorCode.Unauthenticated, 401],
    [ErrorCode.PermissionDenied, 403],
    [ErrorCode.NotFound, 404],
    [ErrorCode.InvalidArgument, 400],
    [ErrorCode.AlreadyExists, 409],
    [ErrorCode.FailedPrecondition, 409],
    [ErrorCode.ResourceExhausted, 429],
    [ErrorCode.Unavailable, 503],
    [ErrorCode.Internal, 500],
  ])('answers %s with %d', (code, status) => {
    expect(httpError(new MusterError(code, 'why')).status).toBe(status);
  });

  it('says nothing to a caller without a valid token, and nothing internal to anyone', () => {
    expect(httpError(new MusterError(ErrorCode.Unauthenticated, 'the token expired'))).toEqual({
      status: 401,
    });
    expect(httpError(new MusterError(ErrorCode.Internal, 'pg: connection refused')).body).toEqual({
      code: 'Internal',
      message: 'internal error',
    });
  });
});
