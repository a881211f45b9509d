'use strict';
/**
 * Catalogs and help pages, checked against the code that uses them.
 *
 * For each node type (those of package.json, and the token nodes, whose editor and help come before
 * their runtime): every key that its runtime file, the shared glue and its
 * editor HTML pass to `RED._` / `this._` / `data-i18n` exists in the en-US catalog; every catalog
 * key is used (no dead keys); the placeholders the code fills are the ones the text shows; and the
 * help page follows Node-RED's help style guide (one-sentence summary, Inputs/Outputs/Details/
 * References, an Errors part naming the codes). Every translation (TRANSLATIONS) then mirrors en-US:
 * exactly the same keys, the same placeholders in each text, and a help page of the same structure.
 * Runs after `npm run build` (reads dist/core/errors).
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ERROR_CODES } = require('../../dist/core/errors');

const root = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const MODULE = pkg.name;
const TYPES = [...new Set([...Object.keys(pkg['node-red'].nodes), 'get-token', 'refresh-token'])];
const LOCALE = 'en-US';
/** The other languages, each with its names for the help style guide's headings (as Node-RED's own help). */
const TRANSLATIONS = {
  de: { Inputs: 'Eingangsdaten', Outputs: 'Ausgangsdaten', Details: 'Details', References: 'Referenzen', Errors: 'Fehler' },
};
const CODES = Object.keys(ERROR_CODES);

/** Codes that only a request for tokens meets (get-token, refresh-token), never a validation. */
const TOKEN_REQUEST_CODES = [
  'ERR_GRANT_INVALID', 'ERR_GRANT_REJECTED', 'ERR_CLIENT_REJECTED', 'ERR_TOKEN_RESPONSE_INVALID', 'ERR_TOKEN_ENDPOINT_UNAVAILABLE',
  'ERR_INPUT_CREDENTIALS_MISSING', 'ERR_INPUT_REFRESH_TOKEN_MISSING', 'ERR_INPUT_SUBJECT_TOKEN_MISSING',
  'ERR_INPUT_TOKENS_MISSING', 'ERR_INPUT_PARAMS_INVALID', 'ERR_LOGIN_STATE_INVALID', 'ERR_LOGIN_DENIED', 'ERR_SESSION_MISSING',
  'ERR_CONFIG_CLIENT_MISSING', 'ERR_CONFIG_PRIVATE_KEY_INVALID',
];
/** The provider and the configuration as a token request meets them: no key set, no audience (both only validate). */
const PROVIDER_CODES = CODES.filter((code) => (ERROR_CODES[code] === 'unavailable' && !code.startsWith('ERR_JWKS_'))
  || (ERROR_CODES[code] === 'configuration' && code !== 'ERR_CONFIG_AUDIENCE_MISSING'));
const COMMON_TOKEN_CODES = ['ERR_GRANT_INVALID', 'ERR_GRANT_REJECTED', 'ERR_CLIENT_REJECTED', 'ERR_TOKEN_RESPONSE_INVALID', ...PROVIDER_CODES];

/** Which codes a help page must explain: each node those it can meet; the config node owns the provider. */
const HELP_CODES = {
  'validate-token': CODES.filter((code) => !TOKEN_REQUEST_CODES.includes(code)),
  // and the provider refusing the configured client (ERR_CLIENT_REJECTED), which only its settings can fix
  'identity-config': CODES.filter((code) => ERROR_CODES[code] === 'unavailable' || ERROR_CODES[code] === 'configuration'
    || code === 'ERR_CLIENT_REJECTED'),
  'get-token': [...COMMON_TOKEN_CODES, 'ERR_INPUT_CREDENTIALS_MISSING', 'ERR_INPUT_SUBJECT_TOKEN_MISSING',
    'ERR_INPUT_PARAMS_INVALID', 'ERR_LOGIN_STATE_INVALID', 'ERR_LOGIN_DENIED'],
  'refresh-token': [...COMMON_TOKEN_CODES, 'ERR_INPUT_REFRESH_TOKEN_MISSING', 'ERR_INPUT_TOKENS_MISSING', 'ERR_SESSION_MISSING'],
};

const read = (...parts) => fs.readFileSync(path.join(root, ...parts), 'utf8');
/** Whether a node type's runtime is written yet (the token nodes' editor and help come first). */
const hasRuntime = (type) => fs.existsSync(path.join(root, 'nodes', `${type}.ts`));
const catalogOf = (type, locale = LOCALE) => JSON.parse(read('nodes', 'locales', locale, `${type}.json`));
const NODE_RED_CATALOG = JSON.parse(fs.readFileSync(
  path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'locales', LOCALE, 'messages.json'), 'utf8'));

/** { 'a.b.c': 'text' } for every string leaf. */
function flatten(object, prefix = '', into = new Map()) {
  for (const [key, value] of Object.entries(object)) {
    const full = prefix ? `${prefix}.${key}` : key;
    if (value && typeof value === 'object') flatten(value, full, into);
    else into.set(full, String(value));
  }
  return into;
}

function placeholdersIn(text) {
  return new Set([...text.matchAll(/__([A-Za-z0-9_]+?)__/g)].map((match) => match[1]));
}

// ---- a small scanner for `X._(key, { a, b: c })` calls --------------------------------------

const QUOTES = new Set(["'", '"', '`']);
const CLOSER = { '(': ')', '[': ']', '{': '}' };

/** Index just past the string literal that starts at `start`. */
function skipString(source, start) {
  const quote = source[start];
  let i = start + 1;
  while (i < source.length && source[i] !== quote) i += source[i] === '\\' ? 2 : 1;
  return i + 1;
}

/** Index just past the bracketed group that starts at `start`. */
function skipGroup(source, start) {
  const stack = [CLOSER[source[start]]];
  let i = start + 1;
  while (i < source.length && stack.length > 0) {
    const char = source[i];
    if (QUOTES.has(char)) { i = skipString(source, i); continue; }
    if (CLOSER[char]) stack.push(CLOSER[char]);
    else if (char === stack[stack.length - 1]) stack.pop();
    i += 1;
  }
  return i;
}

/** Top-level property names of an object literal's text (braces included); null if not knowable. */
function propertyNames(objectText) {
  const inner = objectText.slice(1, -1);
  let flat = '';
  for (let i = 0; i < inner.length;) {
    const char = inner[i];
    if (QUOTES.has(char)) { const end = skipString(inner, i); flat += inner.slice(i, end); i = end; continue; }
    if (CLOSER[char]) { i = skipGroup(inner, i); flat += '()'; continue; }
    flat += char;
    i += 1;
  }
  const names = [];
  for (const entry of flat.split(',').map((part) => part.trim()).filter(Boolean)) {
    const match = /^(['"]?)([A-Za-z_$][\w$]*)\1\s*(?::|$)/.exec(entry);
    if (!match) return null; // a spread or a computed key
    names.push(match[2]);
  }
  return names;
}

/**
 * Every translation call in a source: `{ key, placeholders }` for a literal key, `{ dynamic: true,
 * placeholders }` when the key is computed. `placeholders` is null when the second argument is
 * not an object literal.
 */
function translationCalls(source) {
  const calls = [];
  for (const match of source.matchAll(/\b(?:RED|this|node)\._\(/g)) {
    let i = match.index + match[0].length;
    while (/\s/.test(source[i])) i += 1;
    let key;
    let dynamic = true;
    if (QUOTES.has(source[i])) {
      const end = skipString(source, i);
      const literal = source.slice(i + 1, end - 1);
      if (!(source[i] === '`' && literal.includes('${'))) {
        key = literal;
        dynamic = false;
      }
      i = end;
    } else {
      while (i < source.length && !/[,)]/.test(source[i])) i = CLOSER[source[i]] ? skipGroup(source, i) : i + 1;
    }
    while (/\s/.test(source[i])) i += 1;
    let placeholders = [];
    if (source[i] === ',') {
      i += 1;
      while (/\s/.test(source[i])) i += 1;
      placeholders = source[i] === '{' ? propertyNames(source.slice(i, skipGroup(source, i))) : null;
    }
    calls.push(dynamic ? { dynamic, placeholders, at: match.index } : { key, placeholders, at: match.index });
  }
  return calls;
}

/** Keys of `data-i18n="[attr]key;key2"`. */
function dataI18nKeys(html) {
  const keys = [];
  for (const match of html.matchAll(/data-i18n="([^"]*)"/g)) {
    for (const part of match[1].split(';')) keys.push(part.replace(/^\[[^\]]*\]/, '').trim());
  }
  return keys.filter(Boolean);
}

/** Which catalog a key is looked up in, as Node-RED resolves it for a node of `type`. */
function resolve(rawKey, type) {
  const colon = rawKey.indexOf(':');
  if (colon === -1) return { catalog: type, key: rawKey };
  const namespace = rawKey.slice(0, colon);
  const key = rawKey.slice(colon + 1);
  if (namespace === 'node-red') return { catalog: 'node-red', key };
  const owner = TYPES.find((candidate) => namespace === `${MODULE}/${candidate}`);
  return owner ? { catalog: owner, key } : { catalog: undefined, key, namespace };
}

/** The error namespace of the shared glue (`describeError`), which spans every code. */
function glueErrorNamespace() {
  const glue = read('nodes', 'shared', 'glue.ts');
  const match = /const\s+ERROR_NAMESPACE\s*=\s*['"]([^'"]+)['"]/.exec(glue);
  return match ? match[1] : undefined;
}

/**
 * Every use of a translation key, from any file, as
 * `{ catalog, key, placeholders, file }` (placeholders: array, or null when not knowable).
 */
function collectUsages() {
  const usages = [];
  const problems = [];
  const sharedDir = path.join(root, 'nodes', 'shared');
  const shared = fs.readdirSync(sharedDir).filter((file) => file.endsWith('.ts'));

  const errorNamespace = glueErrorNamespace();
  for (const file of shared) {
    for (const call of translationCalls(read('nodes', 'shared', file))) {
      if (call.dynamic) {
        // Only the glue's error namespace may be completed at run time, with an error code.
        if (file !== 'glue.ts' || !errorNamespace) {
          problems.push(`nodes/shared/${file}: a translation key is computed at run time`);
          continue;
        }
        const { catalog, key } = resolve(errorNamespace, undefined);
        for (const code of CODES) usages.push({ catalog, key: key + code, placeholders: call.placeholders, file: `nodes/shared/${file}` });
        continue;
      }
      // Shared code runs inside every node, so a bare key must exist in every catalog.
      for (const type of TYPES) usages.push({ ...resolve(call.key, type), placeholders: call.placeholders, file: `nodes/shared/${file}` });
    }
  }

  for (const type of TYPES) {
    const sources = [[`nodes/${type}.html`, read('nodes', `${type}.html`)]];
    if (hasRuntime(type)) sources.unshift([`nodes/${type}.ts`, read('nodes', `${type}.ts`)]);
    for (const [file, source] of sources) {
      for (const call of translationCalls(source)) {
        if (call.dynamic) problems.push(`${file}: a translation key is computed at run time`);
        else usages.push({ ...resolve(call.key, type), placeholders: call.placeholders, file });
      }
      if (file.endsWith('.html')) {
        for (const rawKey of dataI18nKeys(source)) usages.push({ ...resolve(rawKey, type), placeholders: [], file });
      }
    }
  }
  return { usages, problems, errorNamespace };
}

function catalogText(catalog, key) {
  if (catalog === 'node-red') return flatten(NODE_RED_CATALOG).get(key);
  return flatten(catalogOf(catalog)).get(key);
}

// ---- help pages ---------------------------------------------------------------------------

function helpOf(type, locale = LOCALE) {
  const file = read('nodes', 'locales', locale, `${type}.html`);
  const match = new RegExp(`<script type="text/html" data-help-name="${type}">([\\s\\S]*?)</script>`).exec(file);
  assert.ok(match, `${type}: the help file has no <script type="text/html" data-help-name="${type}">`);
  return match[1];
}

/** The text of the help's opening paragraph, or undefined when the help does not start with <p>. */
function summaryOf(help) {
  const first = /^\s*<p>([\s\S]*?)<\/p>/.exec(help);
  return first ? textOf(first[1]) : undefined;
}

function assertOneSentence(sentence) {
  assert.ok(sentence !== undefined, 'the help must start with <p>');
  assert.match(sentence, /[.!?]$/, `not a sentence: "${sentence}"`);
  assert.equal([...sentence.matchAll(/[.!?](?=\s|$)/g)].length, 1, `more than one sentence: "${sentence}"`);
}

/** Every error code named in the Errors part (headed `<h4>errors</h4>`) of Details, in order. */
function errorCodesOf(help, details, errors) {
  const part = section(help, details) ?? '';
  const start = part.indexOf(`<h4>${errors}</h4>`);
  return start === -1 ? undefined : part.slice(start).match(/\bERR_[A-Z0-9_]+\b/g) ?? [];
}

/** The names of the `<dt>`s in a section: message properties, which no translation renames. */
const propertiesOf = (html) => [...(html ?? '').matchAll(/<dt[^>]*>\s*([^<\s]+)/g)].map((match) => match[1]);
const codeSpansOf = (help) => new Set([...help.matchAll(/<code>([\s\S]*?)<\/code>/g)].map((match) => match[1].replace(/\s+/g, ' ')));
const linksOf = (help) => [...help.matchAll(/<a href="([^"]+)"/g)].map((match) => match[1]);

const textOf = (html) => html.replace(/<[^>]+>/g, '').replace(/&[a-z]+;|&#\d+;/g, ' ').replace(/\s+/g, ' ').trim();
const headingsOf = (help, level) => [...help.matchAll(new RegExp(`<h${level}>([^<]*)</h${level}>`, 'g'))].map((m) => m[1].trim());

/** The HTML between `<h3>name</h3>` and the next h3 (or the end). */
function section(help, name) {
  const start = help.indexOf(`<h3>${name}</h3>`);
  if (start === -1) return undefined;
  const next = help.indexOf('<h3>', start + 4);
  return help.slice(start, next === -1 ? undefined : next);
}

function isConfigNode(type) {
  return /category\s*:\s*["']config["']/.test(read('nodes', `${type}.html`));
}

function outputCount(type) {
  const match = /\boutputs\s*:\s*(\d+)/.exec(read('nodes', `${type}.html`));
  return match ? Number(match[1]) : 0;
}

// ---- the tests ----------------------------------------------------------------------------

describe('i18n catalogs', () => {
  const { usages, problems, errorNamespace } = collectUsages();

  it('the shared glue names the error namespace of identity-config', () => {
    assert.equal(errorNamespace, `${MODULE}/identity-config:identity-config.errors.`);
  });

  it('no translation key is computed at run time (outside the glue error namespace)', () => {
    assert.deepEqual(problems, []);
  });

  it('every key uses a namespace of this package or of Node-RED', () => {
    const foreign = usages.filter((usage) => !usage.catalog).map((usage) => `${usage.file}: ${usage.namespace}:${usage.key}`);
    assert.deepEqual(foreign, []);
  });

  it("keys borrowed from Node-RED's core catalog exist there", () => {
    const missing = usages.filter((usage) => usage.catalog === 'node-red' && catalogText('node-red', usage.key) === undefined)
      .map((usage) => `${usage.file}: node-red:${usage.key}`);
    assert.deepEqual(missing, []);
  });

  it('every error code has an entry in the identity-config catalog, and there are no others', () => {
    const errors = catalogOf('identity-config')['identity-config'].errors;
    assert.deepEqual(Object.keys(errors).sort(), [...CODES].sort());
  });

  for (const type of TYPES) {
    describe(type, () => {
      const own = usages.filter((usage) => usage.catalog === type);

      it(`has its editor, catalog and help, and the build copies them to dist/`, () => {
        for (const file of [`${type}.html`, `locales/${LOCALE}/${type}.json`, `locales/${LOCALE}/${type}.html`]) {
          assert.ok(fs.existsSync(path.join(root, 'nodes', file)), `nodes/${file} is missing`);
          assert.ok(read('dist', file) === read('nodes', file), `dist/${file} differs from nodes/${file}: run npm run build`);
        }
        if (hasRuntime(type)) assert.ok(type in pkg['node-red'].nodes, `package.json does not register ${type}`);
        const icon = /\bicon\s*:\s*["']([^"']+)["']/.exec(read('nodes', `${type}.html`));
        if (icon) {
          assert.ok(fs.existsSync(path.join(root, 'icons', icon[1])), `icons/${icon[1]} is missing`);
          assert.ok(fs.existsSync(path.join(root, 'dist', 'icons', icon[1])), `dist/icons/${icon[1]} is missing`);
        }
      });

      it('its catalog holds exactly one object, named after the type', () => {
        assert.deepEqual(Object.keys(catalogOf(type)), [type]);
      });

      it('every key the runtime and the editor use exists in the en-US catalog', () => {
        const catalog = flatten(catalogOf(type));
        const missing = own.filter((usage) => !catalog.has(usage.key)).map((usage) => `${usage.file}: ${usage.key}`);
        assert.deepEqual([...new Set(missing)], []);
      });

      it('every catalog key is used', function () {
        // Until its runtime exists, the keys only the runtime uses (status texts) cannot be checked.
        if (!hasRuntime(type)) this.skip();
        const used = new Set(own.map((usage) => usage.key));
        const dead = [...flatten(catalogOf(type)).keys()].filter((key) => !used.has(key));
        assert.deepEqual(dead, []);
      });

      it('the placeholders the code fills are exactly the ones the text shows', () => {
        const catalog = flatten(catalogOf(type));
        const unknowable = own.filter((usage) => usage.placeholders === null).map((usage) => `${usage.file}: ${usage.key}`);
        assert.deepEqual(unknowable, [], 'placeholders must be passed as an object literal');
        const filled = new Map();
        for (const usage of own) {
          if (!filled.has(usage.key)) filled.set(usage.key, new Set());
          for (const name of usage.placeholders) filled.get(usage.key).add(name);
        }
        const mismatches = [];
        for (const [key, names] of filled) {
          const text = catalog.get(key);
          if (text === undefined) continue; // reported by the test above
          const shown = placeholdersIn(text);
          for (const name of names) if (!shown.has(name)) mismatches.push(`${key}: __${name}__ is filled but not shown`);
          for (const name of shown) if (!names.has(name)) mismatches.push(`${key}: __${name}__ is shown but never filled`);
        }
        assert.deepEqual(mismatches, []);
      });

      it('every property its runtime reads is in the editor defaults, with a field of the same name', function () {
        if (!hasRuntime(type)) this.skip();
        const runtime = /interface \w+Definition extends NodeDefinition \{([\s\S]*?)\n\}/.exec(read('nodes', `${type}.ts`));
        assert.ok(runtime, `nodes/${type}.ts declares no <Type>Definition interface`);
        const properties = [...runtime[1].matchAll(/^\s*(\w+)\??\s*:/gm)].map((match) => match[1]);
        const html = read('nodes', `${type}.html`);
        const start = /\bdefaults\s*[:=]\s*\{/.exec(html);
        assert.ok(start, `nodes/${type}.html has no defaults`);
        const open = start.index + start[0].length - 1;
        const defaults = propertyNames(html.slice(open, skipGroup(html, open)));
        assert.ok(defaults, 'defaults must be an object literal');
        assert.deepEqual(properties.filter((name) => !defaults.includes(name)), [], 'missing from defaults');
        const fields = properties.filter((name) => !new RegExp(`id="node-(?:config-)?input-${name}"`).test(html));
        assert.deepEqual(fields, [], 'no node-input-<key> field');
      });

      it('its editor HTML has a template, no help and no literal text', () => {
        const html = read('nodes', `${type}.html`);
        assert.match(html, new RegExp(`RED\\.nodes\\.registerType\\(\\s*["']${type}["']`));
        assert.doesNotMatch(html, /data-help-name/, 'help belongs in locales/');
        const template = new RegExp(`<script type="text/html" data-template-name="${type}">([\\s\\S]*?)</script>`).exec(html);
        assert.ok(template, `no <script type="text/html" data-template-name="${type}">`);
        assert.equal(textOf(template[1].replace(/<!--[\s\S]*?-->/g, '')), '', 'the template shows text that is not from the catalog');
      });
    });
  }
});

describe('help pages', () => {
  for (const type of TYPES) {
    describe(type, () => {
      const help = helpOf(type);

      it('opens with a one-sentence paragraph (the palette tooltip)', () => {
        assertOneSentence(summaryOf(help));
      });

      it('has the sections of the help style guide, in order', () => {
        const expected = isConfigNode(type) ? ['Details', 'References'] : ['Inputs', 'Outputs', 'Details', 'References'];
        assert.deepEqual(headingsOf(help, 3), expected);
      });

      if (!isConfigNode(type)) {
        it('describes message properties as core nodes do', () => {
          assert.match(section(help, 'Inputs'), /<dl class="message-properties">/);
          const outputs = section(help, 'Outputs');
          assert.match(outputs, /<dl class="message-properties">/);
          const count = outputCount(type);
          if (count > 1) {
            const ports = /<ol class="node-ports">([\s\S]*?)<\/ol>/.exec(outputs);
            assert.ok(ports, 'several outputs are listed in <ol class="node-ports">');
            const items = ports[1].replace(/<ul>[\s\S]*?<\/ul>/g, '').match(/<li>/g) ?? [];
            assert.equal(items.length, count, `one <li> per output (${count})`);
          }
        });
      }

      it('lists every error code it can meet in an Errors part of Details, and no unknown code', () => {
        const details = section(help, 'Details');
        assert.ok(details.includes('<h4>Errors</h4>'), 'Details needs an <h4>Errors</h4> part');
        const errors = details.slice(details.indexOf('<h4>Errors</h4>'));
        const expected = HELP_CODES[type] ?? [];
        const missing = expected.filter((code) => !new RegExp(`\\b${code}\\b`).test(errors));
        assert.deepEqual(missing, []);
        const unknown = [...new Set(help.match(/\bERR_[A-Z0-9_]+\b/g) ?? [])].filter((code) => !(code in ERROR_CODES) && code !== 'ERR_HTTP_');
        assert.deepEqual(unknown, []);
      });

      it('gives references to the RFCs', () => {
        const references = section(help, 'References');
        assert.match(references, /<a href="https:\/\/www\.rfc-editor\.org\/rfc\/rfc\d+/);
      });
    });
  }
});

describe('translations', () => {
  for (const [locale, headings] of Object.entries(TRANSLATIONS)) {
    describe(locale, () => {
      for (const type of TYPES) {
        describe(type, () => {
          it('has a catalog and help, and the build copies them to dist/', () => {
            for (const file of [`locales/${locale}/${type}.json`, `locales/${locale}/${type}.html`]) {
              assert.ok(fs.existsSync(path.join(root, 'nodes', file)), `nodes/${file} is missing`);
              assert.ok(fs.existsSync(path.join(root, 'dist', file)) && read('dist', file) === read('nodes', file),
                `dist/${file} differs from nodes/${file}: run npm run build`);
            }
          });

          it(`has exactly the keys of the ${LOCALE} catalog`, () => {
            const original = flatten(catalogOf(type));
            const translated = flatten(catalogOf(type, locale));
            assert.deepEqual([...original.keys()].filter((key) => !translated.has(key)), [], `missing from ${locale}`);
            assert.deepEqual([...translated.keys()].filter((key) => !original.has(key)), [], `not in ${LOCALE}`);
            const empty = [...translated].filter(([, text]) => text.trim() === '').map(([key]) => key);
            assert.deepEqual(empty, [], 'empty texts');
          });

          it(`shows the same placeholders as ${LOCALE} in each text`, () => {
            const original = flatten(catalogOf(type));
            const mismatches = [];
            for (const [key, text] of flatten(catalogOf(type, locale))) {
              if (!original.has(key)) continue; // reported above
              const want = [...placeholdersIn(original.get(key))].sort();
              const have = [...placeholdersIn(text)].sort();
              if (want.join() !== have.join()) mismatches.push(`${key}: __${have.join('__ __')}__ instead of __${want.join('__ __')}__`);
            }
            assert.deepEqual(mismatches, []);
          });

          describe('help', () => {
            const original = helpOf(type);
            const help = helpOf(type, locale);
            const names = (list) => list.map((name) => headings[name] ?? name);

            it('opens with a one-sentence paragraph (the palette tooltip)', () => {
              assertOneSentence(summaryOf(help));
            });

            it(`has the sections of the ${LOCALE} help, in order`, () => {
              assert.deepEqual(headingsOf(help, 3), names(headingsOf(original, 3)));
            });

            it(`describes the same message properties and outputs as ${LOCALE}`, () => {
              for (const name of ['Inputs', 'Outputs']) {
                assert.deepEqual(propertiesOf(section(help, headings[name])), propertiesOf(section(original, name)), name);
              }
              const ports = (html) => (/<ol class="node-ports">([\s\S]*?)<\/ol>/.exec(html ?? '')?.[1] ?? '')
                .replace(/<ul>[\s\S]*?<\/ul>/g, '').match(/<li>/g)?.length ?? 0;
              assert.equal(ports(section(help, headings.Outputs)), ports(section(original, 'Outputs')), 'outputs');
            });

            it(`lists the same error codes as ${LOCALE}, in order`, () => {
              const codes = errorCodesOf(help, headings.Details, headings.Errors);
              assert.ok(codes, `Details needs an <h4>${headings.Errors}</h4> part`);
              assert.deepEqual(codes, errorCodesOf(original, 'Details', 'Errors'));
            });

            it(`keeps the code, links and references of ${LOCALE} unchanged`, () => {
              const have = codeSpansOf(help);
              const want = codeSpansOf(original);
              assert.deepEqual([...want].filter((code) => !have.has(code)), [], 'code missing or altered');
              assert.deepEqual([...have].filter((code) => !want.has(code)), [], `code not in ${LOCALE}`);
              assert.deepEqual(linksOf(help), linksOf(original));
            });
          });
        });
      }
    });
  }
});
