#!/usr/bin/env node
// ajv's side of jsonschema_bench.sh: the same documents as the database's
// side (a file written by gen_orders.js), parsed once up front, validated by
// one validator compiled once (Ajv2020 + ajv-formats in its default "full"
// mode, fail-fast, strict: the configuration of the kit's bench_ajv.js).
//
//   node ajv_rate.js --schema order.schema.json --docs docs.jsonl
//        [--rounds 5] [--passes P] [--verdicts out.tsv] [--expected exp.jsonl]
//
// Each round validates every document P times (default: enough passes for
// about 100,000 validations, so that a round lasts long enough to time) and
// prints "round <k> <validations> <cpu seconds> <wall seconds> <valid>".
// CPU time is the process's user + system time (process.cpuUsage, i.e.
// getrusage: every thread, the garbage collector's too).  Warm-up passes
// (at least 50,000 validations) before the rounds let V8 optimise the
// validator.
//
// --verdicts writes "<i>\t<t|f>" per document (i from 0) for comparison with
// the database's verdicts; --expected (gen_orders.js --expected) counts the
// documents where ajv and the generator disagree.
'use strict';
const fs = require('fs');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
const schema = JSON.parse(fs.readFileSync(opt('--schema'), 'utf8'));
const docs = fs.readFileSync(opt('--docs'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
const rounds = parseInt(opt('--rounds', '5'), 10);
const passes = parseInt(opt('--passes', String(Math.max(1, Math.ceil(100000 / docs.length)))), 10);

const ajv = new Ajv2020({ allErrors: false, strict: true });
addFormats(ajv);
const validate = ajv.compile(schema);

const verdicts = docs.map((d) => validate(d));
if (opt('--verdicts')) {
  fs.writeFileSync(opt('--verdicts'), verdicts.map((v, i) => `${i}\t${v ? 't' : 'f'}`).join('\n') + '\n');
}
if (opt('--expected')) {
  const exp = fs.readFileSync(opt('--expected'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  let bad = 0;
  exp.forEach((e) => { if (verdicts[e.i] !== e.valid) bad++; });
  console.log(`expected ${exp.length} ${bad}`);
}

function pass() {
  let ok = 0;
  for (let i = 0; i < docs.length; i++) if (validate(docs[i])) ok++;
  return ok;
}
// Warm-up: V8 optimises the validator after some tens of thousands of calls.
for (let w = Math.max(1, Math.ceil(50000 / docs.length)); w > 0; w--) pass();
console.log(`ajv ${require('ajv/package.json').version} ajv-formats ${require('ajv-formats/package.json').version} node ${process.version}`);
for (let r = 1; r <= rounds; r++) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let ok = 0;
  for (let p = 0; p < passes; p++) ok = pass();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  console.log(`round ${r} ${docs.length * passes} ${((c.user + c.system) / 1e6).toFixed(6)} ${wall.toFixed(6)} ${ok}`);
}
