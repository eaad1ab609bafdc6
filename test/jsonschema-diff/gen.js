#!/usr/bin/env node
// Random JSON Schema (2020-12) / instance pairs with ajv's verdict, for the
// differential test test/t/005_jsonschema_ajv.pl.  Deterministic: the same
// seed and count give the same file.
//
//   NODE_PATH=$(tools/node-deps.sh) node test/jsonschema-diff/gen.js \
//       [--count 2000] [--seed 20261124] [--per-schema 4] [--seconds 30] --out pairs.csv
//
// Schemas are built from the common keywords: type, properties, required,
// additionalProperties, items, prefixItems, enum, const, minimum, maximum,
// exclusiveMinimum, exclusiveMaximum, multipleOf, minLength, maxLength,
// pattern (simple ASCII patterns), minItems, maxItems, uniqueItems, allOf,
// anyOf, oneOf, not, if/then/else, $ref to $defs and format (email, date,
// date-time, uuid, ipv4).  Each schema gets --per-schema instances, sampled
// from the schema (so that many are valid) and then, 40 % of the time,
// mutated.  Numbers are sometimes written as 2.0, 2e0 or 0.50 (the same
// JSON numbers as 2 and 0.5), in schemas and instances.
//
// The verdict is ajv's: Ajv2020 with strict: false and ajv-formats (its
// default "full" mode), one compile per schema; for the quarter of the
// schemas rewritten into draft 7, ajv's draft-07 class, configured the same.  A schema ajv cannot compile
// is skipped (and counted).
//
// Output: CSV, one pair a line: id, schema, instance, ajv's verdict (t/f),
// tags, draft (2020-12 or 7).  A tag names a known way ajv's answer (or,
// where apikit documents a limitation, apikit's) can be wrong for that pair
// (see known-differences.md, which lists each with its reason); the test
// excuses a disagreement only on a pair that carries a listed tag.
// Standard error gets one summary line.  Generation stops at --count pairs
// or after --seconds, whichever comes first.
'use strict';
const fs = require('fs');
const Ajv = require('ajv').default;
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
const COUNT = parseInt(opt('--count', '2000'), 10);
const SEED = parseInt(opt('--seed', '20261124'), 10);
const PER_SCHEMA = parseInt(opt('--per-schema', '4'), 10);
const SECONDS = parseFloat(opt('--seconds', '30'));
const OUT = opt('--out', null);

function mulberry32(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(SEED);
const chance = (p) => rnd() < p;
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
const pick = (a) => a[Math.floor(rnd() * a.length)];
const pickSome = (a, lo, hi) => {
  const n = Math.min(a.length, int(lo, hi)), s = new Set();
  while (s.size < n) s.add(pick(a));
  return [...s];
};
const clone = (v) => JSON.parse(JSON.stringify(v));

// --- pools ------------------------------------------------------------------
// Property names: "constructor" and "toString" are inherited by every JS
// object, which trips ajv (tag ajv-proto-names); they are drawn rarely.
// ("__proto__" is left out: assigning it here would change a prototype.)
const NAMES = ['a', 'b', 'c', 'id', 'name', 'tags', 'x-y', 'é', ''];
const PROTO_NAMES = ['constructor', 'toString'];
const propName = () => (chance(0.01) ? pick(PROTO_NAMES) : pick(NAMES));

const NUMBERS = [0, 1, -1, 2, 3, 5, 7, 10, 12, 100, -7, 1.5, -0.5, 0.25, 2.5, 0.1, 0.2, 0.3, 0.7, 1.1, 3.3, 1e3, 123456789];
const STRINGS = ['', 'a', 'ab', 'abc', 'abcd', 'hello world', 'A', 'Ab', '0', '42', 'true', 'null', 'é', 'ée', '日本', '日本語', '😀', 'a😀', 'x-y', ' ',
  'a\tb', 'line\nbreak', 'quote"d', 'back\\slash', '\u00e9\u0301'];
const SCALARS = [null, true, false, ...NUMBERS.slice(0, 10), ...STRINGS.slice(0, 8)];

// [pattern, strings to try].  ASCII patterns; the last five use what
// ECMA-262 and PostgreSQL's regular expressions spell differently: \b and
// \B (word boundaries, not backspace), "." (not a line terminator), a "-"
// right after a range (a literal), \x (two hex digits, no more).
const PATTERNS = [
  ['^[a-z]+$', ['abc', 'ABC', 'a1', '', 'z']],
  ['^a', ['abc', 'bac', 'a']],
  ['c$', ['abc', 'cab', 'c']],
  ['^[0-9]{2,4}$', ['12', '12345', '1', '0000']],
  ['^(foo|bar)-\\d+$', ['foo-1', 'bar-22', 'baz-1', 'foo-']],
  ['\\w+@\\w+', ['a@b', '@b', ' a@', 'x y@z']],
  ['^\\S+$', ['ab', ' a', 'a b', '']],
  ['x*y?z', ['', 'xz', 'yz', 'xxyz', 'q']],
  ['^[A-Z][a-z]*( [A-Z][a-z]*)*$', ['Hello World', 'hello', 'Hello  World', 'H']],
  ['[.]', ['a.b', 'ab']],
  ['^.{3}$', ['abc', 'ab', 'abcd', '日本語', 'a😀b', '😀😀']],
  ['^\\d{3}-\\d{4}$', ['555-1234', '5551234', '555-12345']],
  ['^(a|b)*$', ['abab', 'abc', '']],
  ['^[^0-9]*$', ['abc', 'a1', '']],
  ['colou?r', ['color', 'colour', 'colr', 'my colour!']],
  ['^[a-f0-9]{4}$', ['beef', 'BEEF', 'b33f', 'bee']],
  ['^\\s*$', ['', '   ', ' a ']],
  ['^(ab)+c?$', ['abab', 'ababc', 'abca', 'c']],
  ['\\bcat\\b', ['cat', 'a cat!', 'concat', 'cats', 'cat-dog']],
  ['\\Bb', ['ab', 'b', ' b']],
  ['^a.c$', ['abc', 'a\nc', 'a\rc', 'a.c', 'ac']],
  ['^[a-c-z]+$', ['a-z', 'abc', 'd', 'z-a']],
  ['^\\x41B', ['AB', 'ABC', 'A', '\u041b']],
];

// Format strings, valid and not, after the official test suite's optional
// format tests.  Those ajv-formats is known to get wrong carry a tag.
const FORMATS = {
  email: ['joe.bloggs@example.com', 'te~st@example.com', 'x+tag@sub.example.org', 'te.s.t@example.com',
    'a@b.co', 'user_name@example.com', '2962', '.test@example.com', 'test.@example.com', 'te..st@example.com',
    'joe.bloggs@invalid=domain.com', '@example.com', 'joe.bloggs@', 'joe bloggs@example.com',
    '"joe bloggs"@example.com', 'joe.bloggs@[127.0.0.1]', 'joe.bloggs@[IPv6:::1]', 'a@localhost'],
  date: ['1963-06-19', '2020-01-31', '2020-01-32', '2021-02-28', '2020-02-30', '2020-04-31', '2020-02-29',
    '2021-02-29', '2100-02-29', '0400-02-29', '06/19/1963', '2013-350', '1998-1-20', '1998-13-01', '20230328',
    '2024-00-15', '2024-01-00', '', '2020-01-01Z', ' 2024-01-15', '0001-01-01', '2020-11-28T23:55:45Z'],
  'date-time': ['1963-06-19T08:30:06.283185Z', '1963-06-19T08:30:06Z', '1937-01-01T12:00:27.87+00:20',
    '1990-12-31T15:59:50.123-08:00', '1998-12-31T23:59:60Z', '1998-12-31T15:59:60.123-08:00',
    '1998-12-31T23:59:61Z', '1998-12-31T23:58:60Z', '1990-02-31T15:59:59.123-08:00',
    '1990-12-31T15:59:59-24:00', '1990-12-31T24:00:00Z', '1990-12-31T15:60:00Z', '1990-12-31T10:00:00+10:60',
    '06/19/1963 08:30:06 PST', '1963-06-19t08:30:06.283185z', '2013-350T01:01:01', '1963-06-19 08:30:06Z',
    '1963-06-19T08:30:06', '1985-04-12T23:20:50+01', '2016-12-31T24:59:60+01:00',
    '1985-04-12T00:59:59.999999999999999Z', '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z'],
  uuid: ['2EB8AA08-AA98-11EA-B4AA-73B441D16380', '2eb8aa08-aa98-11ea-b4aa-73b441d16380',
    '00000000-0000-0000-0000-000000000000', '98d80576-482e-427f-8434-7f86890ab222',
    '2eb8aa08-aa98-11ea-b4aa-73b441d1638', '2eb8aa08-aa98-11ea-b4ga-73b441d16380',
    '2eb8aa08aa9811eab4aa73b441d16380', '2eb8-aa08-aa98-11ea-b4aa73b44-1d16380',
    'urn:uuid:2eb8aa08-aa98-11ea-b4aa-73b441d16380', '2eb8aa08-aa98-11ea-b4aa-73b441d16380-'],
  ipv4: ['192.168.0.1', '0.0.0.0', '255.255.255.255', '127.0.0.0.1', '256.256.256.256', '127.0', '127.1',
    '087.10.0.1', '1.2.3.4 ', '0x7f.0.0.1', '192.168.1.0/24', '১২৭.0.0.1', '10.0.0.01'],
};
// Strings ajv-formats 3.0.1 is known to judge wrongly for these formats (per
// research/jsonschema.md section 2, the official suite and RFC 3339/5321);
// a string that matches may be judged wrongly, one that does not is not.
const FORMAT_BUGS = [
  // quoted local part, IP-literal domain, or a domain of one label (a@localhost)
  [/^".*"@|@\[|^[^@]*@[^@.]*$/, 'ajv-formats-email'],
  // a space for the "T" (RFC 3339's ABNF has only T/t), an offset without its
  // minutes, hour 24, or more than 9 fraction digits
  [/^\d{4}-\d\d-\d\d |[+-]\d\d$|[Tt]24:|\.\d{10,}/, 'ajv-formats-date-time'],
  [/^urn:uuid:/i, 'ajv-formats-uuid'],
];

// --- schemas ----------------------------------------------------------------
const TYPES = ['null', 'boolean', 'integer', 'number', 'string', 'array', 'object'];
let defsNames = [];

function numberKeywords(s) {
  const lo = pick([-5, -1, 0, 0, 1, 2, 2.5, 10]);
  if (chance(0.4)) s.minimum = lo;
  if (chance(0.4)) s.maximum = lo + pick([0, 1, 3, 10, 100]);
  if (chance(0.2)) s.exclusiveMinimum = pick([-1, 0, 1, 0.5, 5]);
  if (chance(0.2)) s.exclusiveMaximum = pick([0, 1, 10, 2.5, 100]);
  if (chance(0.3)) s.multipleOf = pick([1, 2, 3, 5, 0.5, 0.25, 0.1, 0.01, 1.5]);
}
function stringKeywords(s) {
  if (chance(0.3)) s.minLength = int(0, 3);
  if (chance(0.3)) s.maxLength = int(0, 5);
  if (chance(0.3)) s.pattern = pick(PATTERNS)[0];
  if (chance(0.35)) s.format = pick(Object.keys(FORMATS));
}
function arrayKeywords(s, depth) {
  if (chance(0.6)) s.items = schema(depth + 1);
  if (chance(0.3)) s.prefixItems = Array.from({ length: int(1, 3) }, () => schema(depth + 1));
  if (chance(0.3)) s.minItems = int(0, 3);
  if (chance(0.3)) s.maxItems = int(0, 4);
  if (chance(0.3)) s.uniqueItems = chance(0.8);
}
function objectKeywords(s, depth) {
  if (chance(0.8)) {
    s.properties = {};
    for (const n of pickSome(NAMES, 1, 3)) s.properties[n] = schema(depth + 1);
    if (chance(0.01)) s.properties[pick(PROTO_NAMES)] = schema(depth + 1);
  }
  if (chance(0.5)) {
    const names = Object.keys(s.properties || {});
    s.required = [...new Set([...pickSome(names, 0, names.length), ...(chance(0.3) ? [propName()] : [])])];
  }
  if (chance(0.4)) s.additionalProperties = chance(0.6) ? chance(0.7) ? false : true : schema(depth + 1);
}

function value(depth = 0) {
  const r = rnd();
  if (depth > 1 || r < 0.6) return pick(SCALARS);
  if (r < 0.8) return Array.from({ length: int(0, 3) }, () => value(depth + 1));
  const o = {};
  for (const n of pickSome(NAMES, 0, 2)) o[n] = value(depth + 1);
  return o;
}

function schema(depth = 0, hint = null) {
  if (depth > 0 && chance(0.05)) return chance(0.7);
  if (depth > 0 && defsNames.length && chance(0.12)) {
    const s = { $ref: `#/$defs/${pick(defsNames)}` };
    if (chance(0.2)) s.type = pick(TYPES);
    return s;
  }
  const s = {};
  const deep = depth >= 3;
  const r = rnd();
  let family;
  if (hint && chance(0.7)) family = hint;       // under allOf/anyOf/oneOf/not/if: mostly the parent's kind
  else if (r < 0.1) family = null;              // keywords of any kind, no type
  else family = pick(['integer', 'number', 'number', 'string', 'string', 'array', 'object', 'object', 'boolean', 'null']);
  if (family && chance(0.8)) {
    s.type = chance(0.15) ? pickSome(TYPES, 1, 3) : family;
    if (family === 'number' && chance(0.2)) s.type = 'integer';
  }
  const kinds = family ? [family] : pickSome(['number', 'string', 'array', 'object'], 1, 2);
  for (const k of kinds) {
    if (k === 'integer' || k === 'number') numberKeywords(s);
    else if (k === 'string') stringKeywords(s);
    else if (k === 'array' && !deep) arrayKeywords(s, depth);
    else if (k === 'object' && !deep) objectKeywords(s, depth);
  }
  if (chance(0.08)) s.enum = pickSome([...SCALARS, ...Array.from({ length: 3 }, () => value(1))], 1, 4);
  if (chance(0.05)) s.const = value(1);
  if (!deep) {
    const sub = () => schema(depth + 1, family);
    if (chance(0.08)) s.allOf = Array.from({ length: int(1, 3) }, sub);
    if (chance(0.08)) s.anyOf = Array.from({ length: int(1, 3) }, sub);
    if (chance(0.08)) s.oneOf = Array.from({ length: int(1, 3) }, sub);
    if (chance(0.05)) s.not = sub();
    if (chance(0.06)) {
      s.if = sub();
      if (chance(0.8)) s.then = sub();
      if (chance(0.6)) s.else = sub();
    }
  }
  return s;
}

function rootSchema() {
  defsNames = [];
  const defs = {};
  if (chance(0.3)) {
    // Definitions may refer to the ones made before them, never to
    // themselves, so that no reference loops without consuming the instance.
    for (const n of pickSome(['pos', 'word', 'node', 'item'], 1, 2)) {
      defs[n] = schema(1);
      defsNames.push(n);
    }
  }
  const s = schema(0);
  if (defsNames.length) {
    if (chance(0.5) && typeof s === 'object') s.properties = { ...(s.properties || {}), ref: { $ref: `#/$defs/${pick(defsNames)}` } };
    s.$defs = defs;
  }
  if (chance(0.3)) return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...s };
  return s;
}

// --- instances --------------------------------------------------------------
function resolve(root, s) {
  for (let i = 0; i < 5 && s && typeof s === 'object' && s.$ref; i++) s = root.$defs[s.$ref.slice(8)];
  return s;
}

function sample(root, s, depth = 0) {
  s = resolve(root, s);
  if (s === true || s === undefined) return value(depth);
  if (s === false) return value(depth);
  if (s.const !== undefined && chance(0.6)) return clone(s.const);
  if (s.enum && chance(0.6)) return clone(pick(s.enum));
  for (const k of ['allOf', 'anyOf', 'oneOf']) {
    if (s[k] && chance(0.4)) {
      const v = sample(root, pick(s[k]), depth + 1);
      if (v !== undefined) return v;
    }
  }
  if (s.if && chance(0.3)) return sample(root, s.if, depth + 1);
  let type = Array.isArray(s.type) ? pick(s.type) : s.type;
  if (!type || chance(0.08)) {
    if (s.properties || s.required || s.additionalProperties !== undefined) type = 'object';
    else if (s.items || s.prefixItems || s.minItems !== undefined) type = 'array';
    else if (s.pattern || s.format || s.minLength !== undefined) type = 'string';
    else if (s.minimum !== undefined || s.multipleOf !== undefined) type = 'number';
    else type = pick(TYPES);
  }
  switch (type) {
    case 'null': return null;
    case 'boolean': return chance(0.5);
    case 'integer':
    case 'number': {
      const cands = [...NUMBERS];
      for (const k of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum']) {
        if (s[k] !== undefined) cands.push(s[k], s[k] + 1, s[k] - 1, s[k] + 0.5);
      }
      if (s.multipleOf) cands.push(s.multipleOf * int(0, 7), s.multipleOf * 3, 0.3, 0.7);
      let v = pick(cands);
      if (type === 'integer' && chance(0.7)) v = Math.round(v);
      return +v.toPrecision(12);
    }
    case 'string': {
      if (s.format && chance(0.7)) return pick(FORMATS[s.format]);
      if (s.pattern && chance(0.7)) return pick(PATTERNS.find((p) => p[0] === s.pattern)[1]);
      return pick(STRINGS);
    }
    case 'array': {
      const n = Math.max(0, int((s.minItems || 0) - 1, Math.min(5, (s.maxItems ?? 4) + 1)));
      const a = [];
      for (let i = 0; i < n; i++) {
        const sub = s.prefixItems && i < s.prefixItems.length ? s.prefixItems[i] : s.items;
        a.push(depth > 3 ? pick(SCALARS) : sample(root, sub, depth + 1));
      }
      if (s.uniqueItems && a.length && chance(0.3)) a.push(clone(pick(a)));
      return a;
    }
    default: {
      const o = {};
      const props = s.properties || {};
      for (const n of Object.keys(props)) {
        if (chance(0.75)) o[n] = depth > 3 ? pick(SCALARS) : sample(root, props[n], depth + 1);
      }
      for (const n of s.required || []) if (!(n in o) && chance(0.8)) o[n] = pick(SCALARS);
      if (chance(0.25)) o[propName()] = s.additionalProperties && s.additionalProperties !== true
        ? sample(root, s.additionalProperties, depth + 1) : value(depth + 1);
      return o;
    }
  }
}

// One random change somewhere in the value.
function mutate(v, depth = 0) {
  if (v !== null && typeof v === 'object' && depth < 4 && chance(0.7)) {
    const keys = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
    if (keys.length) {
      const k = pick(keys);
      v[k] = mutate(v[k], depth + 1);
      if (Array.isArray(v) && chance(0.1)) v.splice(k, 1);
      else if (!Array.isArray(v) && chance(0.15)) delete v[k];
      return v;
    }
  }
  switch (int(0, 5)) {
    case 0: return value(1);
    case 1: return typeof v === 'number' ? v + pick([1, -1, 0.5, 0.1]) : pick(NUMBERS);
    case 2: return typeof v === 'string' ? v + pick(['a', '1', ' ', 'é']) : pick(STRINGS);
    case 3: return Array.isArray(v) ? [...v, value(2)] : [v];
    case 4: return v !== null && typeof v === 'object' && !Array.isArray(v) ? { ...v, [propName()]: value(2) } : { a: v };
    default: return pick(SCALARS);
  }
}

// --- tags -------------------------------------------------------------------
function walk(v, f) {
  f(v);
  if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) { f(k, true); walk(v[k], f); }
}
// x / m in exact decimal arithmetic, against ajv's floating-point test.
function decimal(x) {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(String(x));
  const f = m[3] || '';
  return { n: BigInt(m[1] + m[2] + f), exp: (m[4] ? parseInt(m[4], 10) : 0) - f.length };
}
function exactlyMultiple(x, m) {
  const a = decimal(x), b = decimal(m);
  const e = Math.min(a.exp, b.exp);
  const an = a.n * 10n ** BigInt(a.exp - e), bn = b.n * 10n ** BigInt(b.exp - e);
  return an % bn === 0n;
}
function tags(s, inst) {
  const t = new Set();
  const multiples = [], numbers = [];
  walk(s, (v, isKey) => {
    if (isKey && PROTO_NAMES.includes(v)) t.add('ajv-proto-names');
    if (!isKey && v && typeof v === 'object' && typeof v.multipleOf === 'number') multiples.push(v.multipleOf);
    if (!isKey && typeof v === 'string' && PROTO_NAMES.includes(v)) t.add('ajv-proto-names');
    if (!isKey && v && typeof v === 'object' && Array.isArray(v.required) && v.required.includes('')) t.add('ajv-required-empty-name');
  });
  walk(inst, (v, isKey) => {
    if (isKey && PROTO_NAMES.includes(v)) t.add('ajv-proto-names');
    if (!isKey && typeof v === 'number') numbers.push(v);
    if (!isKey && typeof v === 'string') for (const [re, tag] of FORMAT_BUGS) if (re.test(v)) t.add(tag);
  });
  for (const m of multiples) {
    for (const x of numbers) {
      const q = x / m;
      if ((q === parseInt(q, 10)) !== exactlyMultiple(x, m)) t.add('ajv-float-multipleOf');
    }
  }
  return [...t].sort().join(' ');
}

// --- output -----------------------------------------------------------------
// JSON text with integer-valued numbers sometimes written 2.0 or 2e0.
function text(v) {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && Math.abs(v) < 1e15) {
      if (chance(0.08)) return `${v}.0`;
      if (chance(0.03)) return `${v}e0`;
    } else if (Number.isFinite(v) && !/e/.test(String(v)) && chance(0.05)) {
      return `${v}0`; // 0.50 for 0.5
    }
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(text).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.keys(v).map((k) => `${JSON.stringify(k)}:${text(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}
const csv = (x) => `"${String(x).replace(/"/g, '""')}"`;

// Draft 7: a quarter of the schemas are rewritten into draft-07 form
// ("$schema" draft-07, prefixItems/items as items/additionalItems, $defs as
// definitions) and judged by ajv's draft-07 class.  Draft 7 ignores the
// keywords beside "$ref"; ajv applies them (research/jsonschema.md section
// 2), so ajv judges a copy without them while the file keeps them: that
// tests that apikit ignores them, with ajv's answer still the right one.
function toDraft7(v, siblings) {
  if (Array.isArray(v)) return v.map((x) => toDraft7(x, siblings));
  if (v === null || typeof v !== 'object') return v;
  if (v.$ref && !siblings) return { $ref: v.$ref.replace('#/$defs/', '#/definitions/') };
  const o = {};
  for (const k of Object.keys(v)) {
    if (k === '$schema') continue;
    if (k === 'prefixItems') {
      o.items = toDraft7(v.prefixItems, siblings);
      if (v.items !== undefined) o.additionalItems = toDraft7(v.items, siblings);
    } else if (k === 'items' && v.prefixItems) {
      continue;
    } else if (k === '$defs') {
      o.definitions = {};
      for (const n of Object.keys(v.$defs)) o.definitions[n] = toDraft7(v.$defs[n], siblings);
    } else if (k === '$ref') {
      o.$ref = v.$ref.replace('#/$defs/', '#/definitions/');
    } else if (k === 'properties') {
      o.properties = {};
      for (const n of Object.keys(v.properties)) o.properties[n] = toDraft7(v.properties[n], siblings);
    } else if (k === 'enum' || k === 'const' || k === 'required') {
      o[k] = v[k];
    } else {
      o[k] = toDraft7(v[k], siblings);
    }
  }
  return o;
}
const DRAFT7 = 'http://json-schema.org/draft-07/schema#';

const ajv = new Ajv2020({ strict: false, allErrors: false });
addFormats(ajv);
const ajv7 = new Ajv({ strict: false, allErrors: false });
addFormats(ajv7);
const t0 = Date.now();
const lines = [];
let uncompilable = 0, ajvThrew = 0, valid = 0, tagged = 0, draft7 = 0;
while (lines.length < COUNT && (Date.now() - t0) / 1000 < SECONDS) {
  const s = rootSchema();
  const d7 = chance(0.25);
  // what the file holds, and what ajv judges
  const written = d7 ? { $schema: DRAFT7, ...toDraft7(s, true) } : s;
  const judged = d7 ? { $schema: DRAFT7, ...toDraft7(s, false) } : s;
  let v;
  try {
    v = (d7 ? ajv7 : ajv).compile(judged);
  } catch (e) {
    uncompilable++;
    continue;
  }
  for (let k = 0; k < PER_SCHEMA && lines.length < COUNT; k++) {
    let inst = sample(s, s);
    if (inst === undefined) inst = null;
    if (chance(0.4)) inst = mutate(clone(inst));
    let verdict;
    try {
      verdict = v(inst);
    } catch (e) {
      ajvThrew++; // e.g. fast-deep-equal calling a "toString" property that is not a function
      continue;
    }
    const tg = tags(written, inst);
    valid += verdict ? 1 : 0;
    tagged += tg ? 1 : 0;
    draft7 += d7 ? 1 : 0;
    lines.push([lines.length + 1, csv(text(written)), csv(text(inst)), verdict ? 't' : 'f', csv(tg), d7 ? '7' : '2020-12'].join(','));
  }
  ajv.removeSchema(); // one compile per schema: nothing kept between them
  ajv7.removeSchema();
}
const body = lines.join('\n') + '\n';
if (OUT) fs.writeFileSync(OUT, body); else process.stdout.write(body);
console.error(`gen: ${lines.length} pairs (${draft7} in draft 7; ${valid} valid for ajv, ${tagged} tagged), seed ${SEED}, ` +
  `${uncompilable} schemas ajv could not compile, ${ajvThrew} instances it threw on, ${((Date.now() - t0) / 1000).toFixed(1)} s, ` +
  `ajv ${require('ajv/package.json').version} ajv-formats ${require('ajv-formats/package.json').version}`);
