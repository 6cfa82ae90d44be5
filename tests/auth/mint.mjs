// Keys and tokens for ztgate's identity pipeline tests, minted by the npm package jose
// (pinned in package-lock.json beside this file), not by anything of ztgate's own.
//
// Usage:
//   tests/auth/install.sh DIR                       # once: jose into DIR/node_modules
//   ZTG_JOSE_DIR=DIR node tests/auth/mint.mjs --out OUT [--now UNIX_SECONDS]
//
// jose is resolved from $ZTG_JOSE_DIR/node_modules through createRequire (NODE_PATH does not
// apply to ES modules). Every run makes fresh keys. It writes:
//   OUT/keys/idp.jwks            public JWKS of issuer https://idp.ztgate.test: one key per
//                                algorithm (kid = the algorithm in lower case, "hs256" ... "eddsa"),
//                                the HMAC secrets as kty "oct" with "k"; every key has alg and use "sig"
//   OUT/keys/<kid>.pem           SPKI PEM of every asymmetric key (for pem_keys)
//   OUT/keys/rotation-{old,both,new}.jwks   ES256 keys kid "rotation-old" / "rotation-new"
//   OUT/keys/other.jwks          issuer https://other.ztgate.test, one ES256 key (kid "other-es256")
//   OUT/tokens.json              [{name, suite, token, headers?, method, path, expect, reason, kid, revoke?, note}]
//                                suite "jwt": one valid token per algorithm; "negative": what ztgate
//                                must refuse and the reason it must give; "rotation": one per rotation key.
//                                "token" null with "headers" [...]: send those header lines instead.
// Before writing, every "allow" token is checked with jose's jwtVerify against its JWKS.
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

if (!process.env.ZTG_JOSE_DIR) {
  console.error('mint.mjs: set ZTG_JOSE_DIR to a directory tests/auth/install.sh installed jose into');
  process.exit(2);
}
const jose = createRequire(join(process.env.ZTG_JOSE_DIR, 'package.json'))('jose');
const { CompactSign, SignJWT, createLocalJWKSet, exportJWK, exportSPKI, generateKeyPair, generateSecret,
        importJWK, jwtVerify } = jose;

const { values: opts } = parseArgs({ options: { out: { type: 'string' }, now: { type: 'string' } } });
if (!opts.out) {
  console.error('usage: ZTG_JOSE_DIR=DIR node mint.mjs --out DIR [--now UNIX_SECONDS]');
  process.exit(2);
}
const now = opts.now !== undefined ? Number(opts.now) : Math.floor(Date.now() / 1000);
if (!Number.isInteger(now)) throw new Error(`--now: not a number of seconds: ${opts.now}`);

const ISS = 'https://idp.ztgate.test';
const OTHER_ISS = 'https://other.ztgate.test';
const AUD = 'orders-api';
const PATH = '/tenants/acme/orders/1';
const ALGS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
              'ES256', 'ES384', 'ES512', 'EdDSA'];

const b64u = (data) => Buffer.from(data).toString('base64url');
const keysDir = join(opts.out, 'keys');
mkdirSync(keysDir, { recursive: true });
const writeJson = (path, value) => writeFileSync(path, JSON.stringify(value, null, 2) + '\n');

// ---- keys ----------------------------------------------------------------------------------

async function makeKey(alg, kid) {
  if (alg.startsWith('HS')) {
    const secret = await generateSecret(alg, { extractable: true });   // 32/48/64 bytes
    return { alg, kid, sign: secret, jwk: { ...(await exportJWK(secret)), kid, alg, use: 'sig' } };
  }
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  return { alg, kid, sign: privateKey, pem: await exportSPKI(publicKey),
           jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

const keys = {};
for (const alg of ALGS) keys[alg] = await makeKey(alg, alg.toLowerCase());
const rotationOld = await makeKey('ES256', 'rotation-old');
const rotationNew = await makeKey('ES256', 'rotation-new');
const other = await makeKey('ES256', 'other-es256');
const attacker = await makeKey('ES256', 'attacker');

const jwks = (...ks) => ({ keys: ks.map((k) => k.jwk) });
writeJson(join(keysDir, 'idp.jwks'), jwks(...Object.values(keys)));
for (const k of Object.values(keys)) if (k.pem) writeFileSync(join(keysDir, `${k.kid}.pem`), k.pem);
writeJson(join(keysDir, 'rotation-old.jwks'), jwks(rotationOld));
writeJson(join(keysDir, 'rotation-both.jwks'), jwks(rotationOld, rotationNew));
writeJson(join(keysDir, 'rotation-new.jwks'), jwks(rotationNew));
writeJson(join(keysDir, 'other.jwks'), jwks(other));

// ---- tokens --------------------------------------------------------------------------------

const claims = (extra = {}) => ({ iss: ISS, aud: AUD, sub: 'user-1', tenant: 'acme',
  scope: 'orders:read orders:write', jti: randomUUID(), iat: now, exp: now + 3600, ...extra });

// A JWT through jose's SignJWT: header {alg, kid, typ "at+jwt"} plus `header`.
const sign = (key, payload = claims(), header = {}, options = {}) =>
  new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })
    .sign(key.sign, options);

// A JWS over exactly these header and payload bytes (JSON text a JWT builder would not write).
const signRaw = (key, headerText, payloadText) =>
  new CompactSign(new TextEncoder().encode(payloadText))
    .setProtectedHeader(JSON.parse(headerText)).sign(key.sign)
    .then((jws) => [b64u(headerText), b64u(payloadText), jws.split('.')[2]].join('.'));

const segments = (token) => token.split('.');
const join3 = (h, p, s) => [h, p, s].join('.');

// Claims whose JSON is not a multiple of 3 bytes, so the payload segment ends in a partial
// base64 group (unused bits to set, room for '=' padding).
function unalignedClaims() {
  for (let pad = '';; pad += 'x') {
    const c = claims({ jti: `unaligned-${randomUUID()}${pad}` });
    if (Buffer.byteLength(JSON.stringify(c)) % 3 !== 0) return c;
  }
}

const B64U = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const tokens = [];
function add(entry) {
  tokens.push({ method: 'GET', path: PATH, kid: null, note: '', ...entry });
}
const allow = (suite, name, token, kid, note, extra = {}) =>
  add({ name, suite, token, kid, expect: 'allow', reason: null, note, ...extra });
const deny = (name, reason, token, kid, note, extra = {}) =>
  add({ name, suite: 'negative', token, kid, expect: 'deny', reason, note, ...extra });

for (const alg of ALGS) {
  const k = keys[alg];
  allow('jwt', `valid-${k.kid}`, await sign(k), k.kid, `${alg} with the ${k.kid} key of idp.jwks`);
}

const rs = keys.RS256, es = keys.ES256;
const valid = await sign(rs);
const [vh, vp, vs] = segments(valid);
const noneHeader = b64u(JSON.stringify({ alg: 'none', typ: 'at+jwt' }));

deny('alg-none', 'alg_none', `${noneHeader}.${b64u(JSON.stringify(claims()))}.`, null,
     'unsecured JWS: alg none, empty signature');
deny('hs256-with-rsa-public-key', 'alg_key_mismatch',
     await sign({ alg: 'HS256', kid: rs.kid, sign: new TextEncoder().encode(rs.pem) }), rs.kid,
     'HMAC keyed with the RS256 key\'s SPKI PEM, kid of that RSA key (key confusion)');
deny('es256-names-rsa-kid', 'alg_key_mismatch', await sign({ ...es, kid: rs.kid }), rs.kid,
     'ES256 signature, kid of the RS256 key');
deny('unknown-kid', 'unknown_kid', await sign({ ...es, kid: 'no-such-kid' }), 'no-such-kid',
     'kid in no key set');
deny('kid-path-traversal', 'unknown_kid', await sign({ ...es, kid: '../../../../etc/passwd' }),
     '../../../../etc/passwd', 'kid is a path: keys are looked up, never opened');
deny('kid-shell', 'unknown_kid', await sign({ ...es, kid: '| rm -rf /' }), '| rm -rf /',
     'kid is a shell command');
deny('expired', 'expired', await sign(es, claims({ iat: now - 7200, exp: now - 3600 })), es.kid,
     'exp an hour ago, far past the leeway');
deny('not-yet-valid', 'not_yet_valid', await sign(es, claims({ nbf: now + 3600 })), es.kid,
     'nbf an hour ahead');
deny('issuer-unknown', 'issuer_unknown', await sign(es, claims({ iss: 'https://evil.ztgate.test' })), es.kid,
     'iss of no issuer in the policy');
deny('issuer-not-accepted', 'issuer_not_accepted', await sign(other, claims({ iss: OTHER_ISS })), other.kid,
     'issuer "other" is in the policy but the service accepts only "idp"');
deny('audience-mismatch', 'audience_mismatch', await sign(es, claims({ aud: 'billing-api' })), es.kid,
     'aud billing-api');
deny('tampered-payload', 'bad_signature', join3(vh, b64u(JSON.stringify(claims({ sub: 'admin' }))), vs), rs.kid,
     'a valid RS256 token with its payload replaced (sub admin)');
// ES384's signature is 96 bytes (128 characters, whole base64 groups): without its last 4
// characters it is still canonical base64url, so the signature check is what refuses it.
const es384 = await sign(keys.ES384);
deny('truncated-signature', 'bad_signature', es384.slice(0, -4), keys.ES384.kid,
     'ES384 token without the last 4 characters of its signature (93 bytes left)');
deny('empty-signature', 'bad_signature', `${vh}.${vp}.`, rs.kid, 'a valid RS256 token\'s header and payload, no signature');
deny('extra-segments', 'token_malformed', `${valid}.e30`, rs.kid, 'a valid token and a fourth segment');
{
  const [h, p, s] = segments(await sign(rs, unalignedClaims()));
  // The last character's low 4 (1 byte in the last group) or 2 (2 bytes) bits are unused.
  const last = B64U.indexOf(p.at(-1));
  const noisy = p.slice(0, -1) + B64U[last | 1];
  if (Buffer.compare(Buffer.from(noisy, 'base64url'), Buffer.from(p, 'base64url')) !== 0 || noisy === p)
    throw new Error('non-canonical payload does not decode to the same bytes');
  deny('non-canonical-base64url', 'token_bad_base64url', join3(h, noisy, s), rs.kid,
       'payload\'s last character with non-zero unused bits (decodes to the same bytes)');
  const [h2, p2, s2] = segments(await sign(rs, unalignedClaims()));
  deny('padded-base64url', 'token_bad_base64url', join3(h2, p2 + '='.repeat(4 - (p2.length % 4)), s2), rs.kid,
       'payload segment with base64 \'=\' padding');
}
{
  const header = JSON.stringify({ alg: 'RS256', kid: rs.kid, typ: 'at+jwt' });
  const c = claims();
  const payload = JSON.stringify(c).replace(/}$/, ',"sub":"admin"}');
  deny('duplicate-claim', 'token_duplicate_member', await signRaw(rs, header, payload), rs.kid,
       'payload JSON with "sub" twice (user-1, then admin), properly signed');
}
{
  const big = await sign(es, claims({ pad: 'x'.repeat(6400) }));
  if (big.length <= 8192 || big.length >= 16384) throw new Error(`oversized token is ${big.length} bytes`);
  deny('oversized', 'token_too_large', big, es.kid,
       `${big.length} bytes, properly signed: over the issuer's max_token_bytes 8192 (run ztgate with a longer header-line limit)`);
}
deny('crit-header', 'crit_unsupported',
     await sign(es, claims(), { crit: ['exp'], exp: now + 3600 }, { crit: { exp: true } }), es.kid,
     'crit ["exp"] with an exp header parameter, properly signed');
deny('jku-header', 'key_reference_in_header', await sign(es, claims(), { jku: 'https://attacker.test/jwks.json' }),
     es.kid, 'jku to https://attacker.test, signed by the real key');
deny('x5u-header', 'key_reference_in_header', await sign(es, claims(), { x5u: 'https://attacker.test/cert.pem' }),
     es.kid, 'x5u to https://attacker.test, signed by the real key');
{
  const { kid, alg, use, ...embedded } = attacker.jwk;
  void kid; void alg; void use;
  deny('jwk-header', 'key_reference_in_header',
       await sign({ ...attacker, kid: es.kid }, claims(), { jwk: embedded }), es.kid,
       'the attacker\'s key embedded as jwk, signed by it, kid of the real ES256 key');
}
deny('typ-jwt', 'typ_mismatch', await sign(es, claims(), { typ: 'JWT' }), es.kid, 'typ JWT where at+jwt is required');
deny('revoked-jti', 'revoked', await sign(es, claims({ jti: 'revoked-jti-1' })), es.kid,
     'valid until the test revokes jti revoked-jti-1 (ztgatectl revoke jti revoked-jti-1)',
     { revoke: ['jti', 'revoked-jti-1'] });
deny('other-tenant', 'object_mismatch', await sign(es), es.kid, 'tenant acme asking for globex\'s order',
     { path: '/tenants/globex/orders/1' });
deny('scope-missing', 'scope_missing', await sign(es, claims({ scope: 'orders:read' })), es.kid,
     'scope orders:read only, PUT needs orders:write too', { method: 'PUT' });
deny('no-credentials', 'credentials_missing', null, null, 'no Authorization header on a protected route',
     { headers: [] });
deny('two-authorization-headers', 'credentials_conflict', null, null,
     'two Authorization headers with different valid tokens',
     { headers: [`Authorization: Bearer ${await sign(es)}`, `Authorization: Bearer ${await sign(es)}`] });

for (const k of [rotationOld, rotationNew])
  allow('rotation', `rotation-${k.kid.split('-')[1]}`, await sign(k), k.kid,
        `ES256 by ${k.kid}: accepted while its key is in the JWKS, unknown_kid after`);

// ---- checks --------------------------------------------------------------------------------

const canonical = (seg) => seg === '' || Buffer.from(seg, 'base64url').toString('base64url') === seg;
// createLocalJWKSet takes no HMAC alg: an oct key is imported from the same JWKS by kid.
const keyOf = (set) => {
  const local = createLocalJWKSet(set);
  return (header, token) => header.alg.startsWith('HS')
    ? importJWK(set.keys.find((k) => k.kty === 'oct' && k.kid === header.kid), header.alg)
    : local(header, token);
};
const sets = { jwt: keyOf(jwks(...Object.values(keys))), rotation: keyOf(jwks(rotationOld, rotationNew)) };
const names = new Set();
for (const t of tokens) {
  if (names.has(t.name)) throw new Error(`duplicate token name ${t.name}`);
  names.add(t.name);
  if (t.expect === 'allow') {
    await jwtVerify(t.token, sets[t.suite], { issuer: ISS, audience: AUD, typ: 'at+jwt', algorithms: ALGS,
                                             currentDate: new Date(now * 1000) })
      .catch((e) => { throw new Error(`${t.name}: jose refuses an allow token: ${e.message}`); });
  }
  if (t.token && t.reason !== 'token_bad_base64url' && !segments(t.token).every(canonical))
    throw new Error(`${t.name}: not canonical base64url, ztgate would refuse it for that first`);
}

writeJson(join(opts.out, 'tokens.json'), tokens);
const count = (f) => tokens.filter(f).length;
console.log(`minted ${Object.keys(keys).length + 4} keys and ${tokens.length} tokens ` +
            `(${count((t) => t.expect === 'allow')} allow verified by jose ${jose.cryptoRuntime ?? ''}, ` +
            `${count((t) => t.expect === 'deny')} deny) into ${opts.out}, now ${now}`);
