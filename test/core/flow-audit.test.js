'use strict';
/**
 * The security check at deploy (core): each rule on small flows, the walk through links and
 * subflows, the secret detectors with their look-alikes, silencing by a node's Description, and the
 * sample flows of flows/*.json, which must deploy without an unsilenced warning.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { auditFlows, AUDIT_CODES, PASSING } = require('../../dist/core/flow-audit');

const TAB = { id: 't1', type: 'tab', label: 'orders' };
const at = (id, type, wires = [], extra = {}) => ({ id, type, z: 't1', name: '', wires, ...extra });
const httpIn = (wires, extra) => at('in', 'http in', [wires], { name: 'GET /orders', url: '/orders', method: 'get', ...extra });
const respond = (id = 'out') => at(id, 'http response');
const logic = (id = 'fn', wires = [['out']]) => at(id, 'function', wires, { name: 'list orders', func: 'return msg;' });
const validate = (wires = [['fn'], ['out']], extra) => at('vt', 'validate-token', wires, { identity: 'idp', ...extra });
const idp = (extra) => ({ id: 'idp', type: 'identity-config', issuer: 'https://sso.example.com/realms/a', audience: 'api', ...extra });

/** The warnings of a flow, as `code node related` strings, without the silenced ones. */
function active(flows, options) {
  return auditFlows([TAB, ...flows], options).filter((warning) => !warning.silenced)
    .map((warning) => [warning.code, warning.node.id, warning.related?.id ?? warning.property].join(' '));
}

describe('core: the security check at deploy', () => {
  it('knows five codes, and ignores what is not a node', () => {
    assert.deepEqual([...AUDIT_CODES].sort(), ['WARN_AUDIENCE_MISSING', 'WARN_INSECURE_HTTP', 'WARN_ROUTE_UNPROTECTED',
      'WARN_SECRET_IN_FLOW', 'WARN_TLS_UNVERIFIED']);
    assert.deepEqual(auditFlows([]), []);
    assert.deepEqual(auditFlows([null, 3, 'x', { id: 1, type: 'function' }, { type: 'http in' }]), []);
  });

  describe('WARN_ROUTE_UNPROTECTED: http in must reach validate-token before anything that serves', () => {
    it('names the route (id, type, name, tab) and the first node it reaches unchecked', () => {
      const [warning] = auditFlows([TAB, httpIn(['fn']), logic(), respond()]);
      assert.deepEqual(warning, {
        code: 'WARN_ROUTE_UNPROTECTED',
        node: { id: 'in', type: 'http in', name: 'GET /orders', tab: 'orders' },
        related: { id: 'fn', type: 'function', name: 'list orders', tab: 'orders' },
        silenced: false,
      });
    });

    it('a route through validate-token is protected, whatever follows it', () => {
      assert.deepEqual(active([httpIn(['vt']), validate(), logic(), respond(), idp()]), []);
    });

    it('reports the nearest unchecked node when the route forks', () => {
      assert.deepEqual(active([httpIn(['vt', 'sw']), validate(), logic(), respond(), at('sw', 'switch', [['fn2']]), logic('fn2')]),
        ['WARN_ROUTE_UNPROTECTED in sw']);
    });

    it('lets a request pass only the listed node types', () => {
      assert.deepEqual([...PASSING].sort(), ['catch', 'comment', 'complete', 'debug', 'get-token', 'http response', 'junction',
        'link in', 'refresh-token', 'resource-metadata', 'status']);
      const passing = [httpIn(['j1']), at('j1', 'junction', [['dbg', 'j2']]), at('dbg', 'debug'), at('j2', 'junction', [['j1', 'out']]), respond()];
      assert.deepEqual(active(passing), [], 'junctions (even in a loop), debug and http response');
      passing[3].wires = [['j1', 'chg']];
      assert.deepEqual(active([...passing, at('chg', 'change', [['out']])]), ['WARN_ROUTE_UNPROTECTED in chg']);
    });

    it('token endpoints pass: http in → get-token or refresh-token → http response', () => {
      for (const token of [
        at('tk', 'get-token', [['out'], ['out']], { grantType: 'password' }),
        at('tk', 'get-token', [['out'], ['out']], { grantType: 'client_credentials' }),
        at('tk', 'get-token', [['out'], ['out']], { grantType: 'authorization_code' }),
        at('tk', 'refresh-token', [['out'], ['out']], { session: false }),
      ]) {
        assert.deepEqual(active([httpIn(['tk']), token, respond()]), [], token.grantType ?? token.type);
      }
    });

    it("the first output counts as protected where the provider has just authenticated the caller", () => {
      const after = (token) => active([httpIn(['tk']), token, logic(), respond()]);
      assert.deepEqual(after(at('tk', 'get-token', [['fn'], ['out']], { grantType: 'password' })), []);
      assert.deepEqual(after(at('tk', 'get-token', [['fn'], ['out']], { grantType: 'urn:ietf:params:oauth:grant-type:token-exchange' })), []);
      assert.deepEqual(after(at('tk', 'refresh-token', [['fn'], ['out']], { refreshToken: 'payload.refresh_token', refreshTokenType: 'msg' })), []);
      // but its second output is the failed request, which must not reach business logic
      assert.deepEqual(after(at('tk', 'get-token', [['out'], ['fn']], { grantType: 'password' })), ['WARN_ROUTE_UNPROTECTED in fn']);
    });

    it('a token node that authenticates nobody protects nothing', () => {
      for (const token of [
        at('tk', 'get-token', [['fn'], ['out']], {}), // client_credentials by default: the flow's own client
        at('tk', 'get-token', [['fn'], ['out']], { grantType: 'authorization_code' }), // the same node sends anyone to the login
        at('tk', 'refresh-token', [['fn'], ['out']], { session: true, sessionAction: 'keep' }), // the flow's own session
        at('tk', 'refresh-token', [['fn'], ['out']], { refreshTokenType: 'flow', refreshToken: 'rt' }), // the flow's own refresh token
      ]) {
        assert.deepEqual(active([httpIn(['tk']), token, logic(), respond()]), ['WARN_ROUTE_UNPROTECTED in fn'], JSON.stringify(token));
      }
    });

    it('disabled nodes and disabled tabs run nothing: the path ends there', () => {
      assert.deepEqual(active([httpIn(['fn'], { d: true }), logic(), respond()]), [], 'a disabled route');
      assert.deepEqual(active([httpIn(['fn']), logic('fn', [['out']]), respond()].map((node) => (node.id === 'fn' ? { ...node, d: true } : node))), []);
      assert.deepEqual(auditFlows([{ ...TAB, disabled: true }, httpIn(['fn']), logic(), respond()]), [], 'a disabled tab');
      assert.deepEqual(active([httpIn(['gone']), respond()]), [], 'a wire to a node that does not exist');
    });

    it('follows link out → link in, across tabs', () => {
      const linked = (target) => [httpIn(['lo']), at('lo', 'link out', [], { mode: 'link', links: ['li'] }),
        { ...at('li', 'link in', [[target]]), z: 't2' }, { id: 't2', type: 'tab', label: 'api' }, validate(), logic(), respond()];
      assert.deepEqual(active(linked('vt')), []);
      assert.deepEqual(active(linked('fn')), ['WARN_ROUTE_UNPROTECTED in fn']);
    });

    it('follows a static link call into the called flow and, after a return, on from the call', () => {
      const called = (inner, afterCall) => [httpIn(['call']), at('call', 'link call', [[afterCall]], { links: ['li'], linkType: 'static' }),
        at('li', 'link in', [[inner]]), validate([['ret'], ['ret']]), at('ret', 'link out', [], { mode: 'return' }), logic(), respond()];
      assert.deepEqual(active(called('vt', 'fn')), [], 'validated in the called flow, served after the return');
      assert.deepEqual(active(called('ret', 'fn')), ['WARN_ROUTE_UNPROTECTED in fn'], 'returned unvalidated');
      assert.deepEqual(active(called('fn', 'out')), ['WARN_ROUTE_UNPROTECTED in fn'], 'served in the called flow');
    });

    it('cannot follow a dynamic link call, and says so', () => {
      assert.deepEqual(active([httpIn(['call']), at('call', 'link call', [['out']], { linkType: 'dynamic', links: [] }), respond()]),
        ['WARN_ROUTE_UNPROTECTED in call']);
    });

    describe('subflows', () => {
      const subflow = (inner, out) => ({ id: 'sf', type: 'subflow', name: 'auth', in: [{ wires: inner.map((id) => ({ id })) }], out: [{ wires: out }] });
      const inside = (node) => ({ ...node, z: 'sf' });
      const instance = (wires = [['fn']]) => at('inst', 'subflow:sf', wires);

      it('a subflow that validates protects what follows its instance', () => {
        const flows = [httpIn(['inst']), instance(), subflow(['svt'], [{ id: 'svt', port: 0 }]),
          inside(at('svt', 'validate-token', [[], ['sres']], { identity: 'idp' })), inside(at('sres', 'http response')), idp(), logic(), respond()];
        assert.deepEqual(active(flows), []);
      });

      it('a subflow that serves is reported at its inner node, named with the subflow', () => {
        const flows = [httpIn(['inst']), instance([['out']]), subflow(['sfn'], [{ id: 'sfn', port: 0 }]),
          inside(at('sfn', 'function', [[]], { name: 'inner' })), respond()];
        const [warning] = auditFlows([TAB, ...flows]);
        assert.deepEqual(warning.related, { id: 'sfn', type: 'function', name: 'inner', tab: 'auth' });
      });

      it('leaves the subflow by its outputs, on to the nodes wired after the instance', () => {
        const through = (after) => [httpIn(['inst']), instance([[after]]), subflow(['sj'], [{ id: 'sj', port: 0 }]),
          inside(at('sj', 'junction', [[]])), validate(), idp(), logic(), respond()];
        assert.deepEqual(active(through('fn')), ['WARN_ROUTE_UNPROTECTED in fn']);
        assert.deepEqual(active(through('vt')), []);
      });

      it('an input wired straight to an output passes the request on unchecked', () => {
        const flows = [httpIn(['inst']), instance(), subflow([], [{ id: 'sf' }]), logic(), respond()];
        assert.deepEqual(active(flows), ['WARN_ROUTE_UNPROTECTED in fn']);
      });

      it('ends the walk in broken configurations: a subflow inside itself, missing wires and ports', () => {
        const selfNested = [httpIn(['inst']), instance(), subflow(['inner'], []), inside(at('inner', 'subflow:sf', [[]])), logic(), respond()];
        assert.deepEqual(active(selfNested), []);
        const bare = [httpIn(['inst', 'lo']), { ...instance(), wires: undefined }, { id: 'sf', type: 'subflow' },
          { ...at('lo', 'link out'), links: 'li', wires: undefined }];
        assert.deepEqual(active(bare), []);
      });

      it('an instance of a missing subflow is reported', () => {
        assert.deepEqual(active([httpIn(['inst']), instance(), logic(), respond()]), ['WARN_ROUTE_UNPROTECTED in inst']);
      });
    });
  });

  describe('WARN_AUDIENCE_MISSING: validate-token with an identity-config without audience', () => {
    const flow = (config, extra) => [httpIn(['vt']), validate(undefined, extra), logic(), respond(), idp(config)];

    it('names the validate-token and the identity-config', () => {
      const [warning] = auditFlows([TAB, ...flow({ name: 'sso', audience: ' ' })]);
      assert.deepEqual(warning, { code: 'WARN_AUDIENCE_MISSING', node: { id: 'vt', type: 'validate-token', tab: 'orders' },
        related: { id: 'idp', type: 'identity-config', name: 'sso' }, silenced: false });
    });

    it('checks the further identity-configs too', () => {
      const second = { id: 'idp2', type: 'identity-config', issuer: 'https://other.example.com', audience: '' };
      assert.deepEqual(active([...flow({}, { identity2: 'idp2' }), second]), ['WARN_AUDIENCE_MISSING vt idp2']);
    });

    it('resolves ${VAR} as Node-RED does, and keeps it when the variable is not set', () => {
      const env = { EMPTY: '', API: 'urn:api' };
      const options = { env: (name, node) => (node.id === 'idp' ? env[name] : undefined) };
      assert.deepEqual(active(flow({ audience: '${EMPTY}' }), options), ['WARN_AUDIENCE_MISSING vt idp']);
      assert.deepEqual(active(flow({ audience: '${API}' }), options), []);
      assert.deepEqual(active(flow({ audience: '${UNSET}' }), options), [], 'Node-RED leaves ${UNSET} as the audience');
    });

    it('says nothing of a disabled validate-token, or of an identity-config only used for tokens', () => {
      assert.deepEqual(active(flow({ audience: '' }, { d: true })), []);
      assert.deepEqual(active([httpIn(['tk']), at('tk', 'get-token', [['out'], ['out']], { identity: 'idp', grantType: 'password' }), respond(), idp({ audience: '' })]), []);
    });
  });

  describe('WARN_TLS_UNVERIFIED and WARN_INSECURE_HTTP: how identity-config reaches its provider', () => {
    const tls = (verifyservercert) => ({ id: 'tls', type: 'tls-config', name: 'corp CA', verifyservercert });

    it('a tls-config that does not verify the server certificate', () => {
      const [warning] = auditFlows([idp({ tls: 'tls' }), tls(false)]);
      assert.deepEqual(warning, { code: 'WARN_TLS_UNVERIFIED', node: { id: 'idp', type: 'identity-config' },
        related: { id: 'tls', type: 'tls-config', name: 'corp CA' }, silenced: false });
      assert.deepEqual(active([idp({ tls: 'tls' }), tls(true)]), []);
      assert.deepEqual(active([idp({ tls: '' }), tls(false)]), [], 'a tls-config that no identity-config uses');
    });

    it('plain http to another machine, where insecure http is allowed', () => {
      const insecure = (extra) => active([idp({ allowInsecureHttp: true, ...extra })]);
      assert.deepEqual(insecure({ issuer: 'http://sso.internal/realms/a' }), ['WARN_INSECURE_HTTP idp issuer']);
      assert.deepEqual(insecure({ tokenEndpoint: 'http://10.0.0.5/token', jwksUri: 'HTTP://sso.internal/keys' }),
        ['WARN_INSECURE_HTTP idp jwksUri', 'WARN_INSECURE_HTTP idp tokenEndpoint']);
      assert.deepEqual(insecure({ authorizationEndpoint: 'http://login.example.com/auth' }), ['WARN_INSECURE_HTTP idp authorizationEndpoint']);
      for (const issuer of ['http://localhost:8080/realms/a', 'http://127.0.0.1/realms/a', 'http://[::1]:8080/', 'https://sso.example.com', '', 'not a url']) {
        assert.deepEqual(insecure({ issuer }), [], issuer);
      }
      assert.deepEqual(active([idp({ issuer: 'http://sso.internal/realms/a' })]), [], 'not allowed: refused at run time instead');
      assert.deepEqual(active([idp({ allowInsecureHttp: true, issuer: '${ISSUER}' })], { env: () => 'http://sso.internal/' }),
        ['WARN_INSECURE_HTTP idp issuer']);
    });

    it('a disabled identity-config runs nothing', () => {
      assert.deepEqual(active([idp({ d: true, tls: 'tls', allowInsecureHttp: true, issuer: 'http://sso.internal' }), tls(false)]), []);
    });
  });

  describe('WARN_SECRET_IN_FLOW: secrets in properties that are not credentials', () => {
    const JWT = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJhbGljZSIsImV4cCI6MTg5MzQ1NjAwMH0.c2lnbmF0dXJlLXBhcnQtaGVyZQ';
    const PEM = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIH2s0yZ2b1kWc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----';
    const BASIC = Buffer.from('svc-user:S3cret!pw').toString('base64');
    const found = (node) => auditFlows([TAB, node]).map((warning) => `${warning.property} ${warning.secret}`);

    const cases = [
      ['a JWT in a change rule', at('n', 'change', [], { rules: [{ t: 'set', p: 'headers.authorization', to: JWT }] }), 'rules[0].to jwt'],
      ['a bearer token in an http request header', at('n', 'http request', [], { headers: [{ keyValue: 'Authorization', valueValue: 'Bearer 8f14e45fceea167a5a36dedd4bea2543' }] }), 'headers[0].valueValue bearer'],
      ['Basic credentials in a function', at('n', 'function', [], { func: `msg.headers = { Authorization: "Basic ${BASIC}" };` }), 'func basic'],
      ['client_secret= in a URL', at('n', 'http request', [], { url: 'https://sso.example.com/token?grant_type=client_credentials&client_secret=s3cr3t-v4lue' }), 'url param'],
      ['a password in JSON parameters', at('n', 'get-token', [], { params: '{"username":"svc","password":"hunter2"}', paramsType: 'json' }), 'params param'],
      ['a PEM private key in a template', at('n', 'template', [], { template: `key:\n${PEM}\n` }), 'template pem'],
      ['a user and password in a URL', at('n', 'mqtt-broker', [], { broker: 'mqtts://svc:pa55word@broker.example.com' }), 'broker url'],
      ['a property named password', at('n', 'some-contrib-node', [], { options: { password: 'plain-text' } }), 'options.password param'],
      ['a JWT in a flow environment variable', { ...TAB, env: [{ name: 'TOKEN', value: JWT, type: 'str' }] }, 'env[0].value jwt'],
      ['a JWT in a Description', at('n', 'inject', [], { info: `test with ${JWT}` }), 'info jwt'],
    ];
    for (const [title, node, expected] of cases) {
      it(`finds ${title}, naming the property but never its value`, () => {
        const warnings = auditFlows(node.type === 'tab' ? [node] : [TAB, node]);
        assert.deepEqual(warnings.map((warning) => `${warning.property} ${warning.secret}`), [expected]);
        assert.equal(warnings[0].code, 'WARN_SECRET_IN_FLOW');
        assert.equal(warnings[0].node.id, node.id);
        const shown = JSON.stringify(warnings);
        for (const secret of [JWT, '8f14e45fceea167a5a36dedd4bea2543', BASIC, 's3cr3t-v4lue', 'hunter2', 'MC4CAQAw', 'pa55word', 'plain-text']) {
          assert.ok(!shown.includes(secret), `the warning shows ${secret.slice(0, 8)}…`);
        }
      });
    }

    it('reports each property once, and every node type, enabled or not', () => {
      const node = at('n', 'function', [], { d: true, func: `"${JWT}" + "${JWT}"`, name: `Bearer ${'a1'.repeat(10)}` });
      assert.deepEqual(found(node), ['name bearer', 'func jwt']);
    });

    it('passes placeholders, documentation and look-alikes', () => {
      const harmless = [
        'Authorization: Bearer <token>', 'Bearer $TOKEN', 'Bearer {{access_token}}', 'Bearer …', 'use a bearer token issued by the provider',
        'Basic authentication', `Basic ${Buffer.from('no colon here').toString('base64')}`, 'password=${PASSWORD}', 'client_secret=<secret>',
        '{"password":"{{password}}"}', '{"password":"***"}', 'grant_type=password&username=alice', 'https://${USER}:${PASS}@host/',
        'http://127.0.0.1:1880/api/orders', 'user@example.com', '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQ==\n-----END PUBLIC KEY-----',
        'paste -----BEGIN PRIVATE KEY----- here', 'eyJhbGciOiJSUzI1NiJ9', 'msg.headers.authorization = "Bearer " + msg.token;',
        "const url = 'https://sso.example.com/token?password=' + encodeURIComponent(pw);",
      ];
      for (const text of harmless) assert.deepEqual(found(at('n', 'comment', [], { info: text })), [], text);
      assert.deepEqual(found(at('n', 'some-contrib-node', [], { password: '${PASSWORD}', options: { client_secret: '' } })), []);
    });

    it('never looks into credentials', () => {
      assert.deepEqual(found(at('n', 'http request', [], { credentials: { password: 'hunter2', token: JWT } })), []);
    });
  });

  describe('hostile flows: the check stays bounded and never repeats a secret', () => {
    it('link calls that double the paths at every level end within the budget, still finding what is unprotected', () => {
      const nodes = [TAB, httpIn(['A']), at('A', 'link call', [['out']], { links: ['L'] }), at('B', 'link call', [['out']], { links: ['L'] }),
        at('L', 'link in', [['A', 'B', 'fn']]), logic(), respond()];
      const warnings = auditFlows(nodes).filter((warning) => warning.code === 'WARN_ROUTE_UNPROTECTED');
      assert.deepEqual(warnings.map((warning) => [warning.node.id, warning.related.id]), [['in', 'fn']]);
    });

    it('a secret in a node name or tab label is not repeated in the warning about it', () => {
      const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4eHh4eHh4eCJ9.c2lnbmF0dXJlc2ln';
      const warnings = auditFlows([{ ...TAB, label: `tab ${jwt}` }, at('n', 'change', [], { name: jwt })]);
      assert.ok(warnings.some((warning) => warning.code === 'WARN_SECRET_IN_FLOW' && warning.node.id === 'n'));
      assert.ok(!JSON.stringify(warnings).includes(jwt), JSON.stringify(warnings));
    });
  });

  describe('silencing in the Description (info) of the node a warning names', () => {
    const unprotected = (info) => auditFlows([TAB, httpIn(['fn'], { info }), logic(), respond()])[0];

    it('identity: public route silences the route', () => {
      assert.equal(unprotected('identity: public route').silenced, true);
      assert.equal(unprotected('A public health check.\n\nIdentity:  Public Route\n').silenced, true);
      assert.equal(unprotected('identity: ignore WARN_ROUTE_UNPROTECTED').silenced, true);
      assert.equal(unprotected(undefined).silenced, false);
      assert.equal(unprotected('identity: ignore WARN_SECRET_IN_FLOW').silenced, false, 'another code');
      assert.equal(unprotected('this route is public').silenced, false, 'prose is no marker');
    });

    it('identity: ignore takes one or more codes, and only for the node it is on', () => {
      const flows = [TAB, idp({ allowInsecureHttp: true, issuer: 'http://sso.internal', tls: 'tls', info: 'identity: ignore WARN_TLS_UNVERIFIED, WARN_INSECURE_HTTP' }),
        { id: 'tls', type: 'tls-config', verifyservercert: false, info: 'identity: ignore WARN_SECRET_IN_FLOW' },
        at('c', 'comment', [], { info: 'curl -u x -d \'{"password":"demo-password"}\'\n\nidentity: ignore warn_secret_in_flow' })];
      const warnings = auditFlows(flows);
      assert.deepEqual(warnings.map((warning) => [warning.code, warning.node.id, warning.silenced]), [
        ['WARN_TLS_UNVERIFIED', 'idp', true], ['WARN_INSECURE_HTTP', 'idp', true], ['WARN_SECRET_IN_FLOW', 'c', true]]);
      flows[1].info = 'identity: ignore WARN_TLS_UNVERIFIED';
      assert.deepEqual(auditFlows(flows).filter((warning) => !warning.silenced).map((warning) => warning.code), ['WARN_INSECURE_HTTP']);
    });
  });

  describe('the sample flows (flows/*.json, deployed together by npm start)', () => {
    const root = path.resolve(__dirname, '../..');
    const files = fs.readdirSync(path.join(root, 'flows')).filter((file) => file.endsWith('.json'));
    const samples = files.flatMap((file) => JSON.parse(fs.readFileSync(path.join(root, 'flows', file), 'utf8')));
    const env = { env: (name) => ({ IDENTITY_DEMO_ISSUER: 'http://127.0.0.1:1880/realms/demo', IDENTITY_DEMO_PARTNER_ISSUER: 'http://127.0.0.1:1880/realms/partners' })[name] };

    it('deploy without an unsilenced warning', () => {
      assert.ok(files.length >= 7, files.join());
      assert.deepEqual(auditFlows(samples, env).filter((warning) => !warning.silenced), []);
    });

    it('silence exactly the two public routes and the demo passwords of five comments', () => {
      const silenced = auditFlows(samples, env).map((warning) => `${warning.code} ${warning.node.type} ${warning.node.name.split(':')[0]}`).sort();
      assert.deepEqual(silenced, [
        'WARN_ROUTE_UNPROTECTED http in GET /m2m/orders',
        'WARN_ROUTE_UNPROTECTED http in GET /session/orders',
        'WARN_SECRET_IN_FLOW comment Encrypted tokens',
        'WARN_SECRET_IN_FLOW comment Opaque tokens',
        'WARN_SECRET_IN_FLOW comment Provider chain',
        'WARN_SECRET_IN_FLOW comment Session',
        'WARN_SECRET_IN_FLOW comment Token endpoint',
      ]);
    });

    it('without their markers, the public routes are reported', () => {
      const unmarked = samples.map((node) => (node.type === 'http in' ? { ...node, info: undefined } : node));
      const routes = auditFlows(unmarked, env).filter((warning) => !warning.silenced).map((warning) => warning.node.name);
      assert.deepEqual(routes.sort(), ['GET /m2m/orders', 'GET /session/orders']);
    });
  });
});
