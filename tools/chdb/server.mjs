#!/usr/bin/env node
// server.mjs holds one chDB session (modern ClickHouse as a library, from the npm
// package chdb) and answers SQL requests, one JSON object per line, so Go tests
// (pkg/clickhouse/chdb) can check cx360's SQL against a modern ClickHouse engine.
//
//   node server.mjs DATA_DIR [--in-fd N] [--out-fd N]
//
// Request:  {"id":1,"sql":"SELECT 1","format":"JSONCompact","params":{"name":"text"}}
//           format defaults to JSONCompact; params, when present, bind {name:Type}
//           placeholders on the engine (values in the text form ClickHouse's
//           param_<name> takes, e.g. "42", "2026-01-02 03:04:05", "['a','b']").
// Response: {"id":1,"ok":true,"data":"<the engine's output, as text>"}
//           {"id":1,"ok":false,"error":"Code: 62. DB::Exception: ..."}
// The first line written is a greeting with id 0: ok with data = version(), or
// the reason the session could not open (and the process exits 1).
//
// Requests are read from stdin and answers written to stdout unless --in-fd and
// --out-fd name other descriptors. The Go package uses fds 3 and 4 and gives the
// process /dev/null as stdin, because the engine reads the host process's stdin
// as external data for every INSERT (chdb-core issue 239): with requests on
// stdin, `INSERT ... VALUES` fails with Code 48 or, worse, inserts request bytes.
// Keep stdin mode for poking at the engine by hand with SELECTs.
import fs from 'node:fs';
import readline from 'node:readline';

import { Session } from 'chdb';

function usage(message) {
  process.stderr.write(`server.mjs: ${message}\nusage: node server.mjs DATA_DIR [--in-fd N] [--out-fd N]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { dataDir: '', inFd: 0, outFd: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--in-fd' || a === '--out-fd') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 0) usage(`${a} needs a file descriptor number`);
      if (a === '--in-fd') opts.inFd = n; else opts.outFd = n;
    } else if (a.startsWith('-')) {
      usage(`unknown flag ${a}`);
    } else if (opts.dataDir === '') {
      opts.dataDir = a;
    } else {
      usage(`unexpected argument ${a}`);
    }
  }
  if (opts.dataDir === '') usage('DATA_DIR is required');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const input = opts.inFd === 0 ? process.stdin : fs.createReadStream(null, { fd: opts.inFd });
const output = opts.outFd === 1 ? process.stdout : fs.createWriteStream(null, { fd: opts.outFd });

function reply(obj) {
  output.write(JSON.stringify(obj) + '\n');
}

function messageOf(err) {
  const m = err && err.message != null ? String(err.message) : String(err);
  // chdb prefixes the engine's exception with "Query failed: "; the engine's own
  // text ("Code: N. DB::Exception: ...") is what a ClickHouse user recognises.
  return m.replace(/^Query failed: /, '');
}

let session;
try {
  session = new Session(opts.dataDir);
  // Pin how 64-bit integers come back so the Go side decodes every number the
  // same way (as JSON numbers, kept exact there with json.Number).
  session.query('SET output_format_json_quote_64bit_integers = 0');
  reply({ id: 0, ok: true, data: session.query('SELECT version()', 'TabSeparated').trim() });
} catch (err) {
  reply({ id: 0, ok: false, error: `open chDB session at ${opts.dataDir}: ${messageOf(err)}` });
  output.end(() => process.exit(1));
}

function handle(line) {
  if (line.trim() === '') return;
  let req;
  try {
    req = JSON.parse(line);
  } catch (err) {
    reply({ id: null, ok: false, error: `bad request (not JSON): ${messageOf(err)}` });
    return;
  }
  const id = req && Object.hasOwn(req, 'id') ? req.id : null;
  if (!req || typeof req.sql !== 'string' || req.sql.trim() === '') {
    reply({ id, ok: false, error: 'bad request: "sql" must be a non-empty string' });
    return;
  }
  const format = typeof req.format === 'string' && req.format !== '' ? req.format : 'JSONCompact';
  try {
    // Session.query is synchronous, so requests run strictly one after another
    // in the order they arrived.
    const data = req.params && typeof req.params === 'object'
      ? session.queryBind(req.sql, req.params, format)
      : session.query(req.sql, format);
    reply({ id, ok: true, data: data == null ? '' : String(data) });
  } catch (err) {
    reply({ id, ok: false, error: messageOf(err) });
  }
}

function shutdown(code) {
  if (session) {
    try { session.close(); } catch (_) { /* exiting anyway */ }
    session = undefined;
  }
  output.end(() => process.exit(code));
}

if (session) {
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  lines.on('line', handle);
  // End of input is the orderly stop: close the session so the engine flushes
  // its data directory, then exit.
  lines.on('close', () => shutdown(0));
  process.on('SIGTERM', () => shutdown(0));
  process.on('SIGINT', () => shutdown(0));
}
