// Parses PowerShell scripts with tree-sitter-powershell (through
// web-tree-sitter) and reports every syntax error: an ERROR node or a
// MISSING one, with its line and column and the text around it.
//
//   node parse.mjs FILE...
//
// Prints "FILE: ok" or one "FILE:LINE:COL: ..." line per error; exits 1
// when any file has an error, 2 when the grammar cannot be loaded.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

// V8 would otherwise optimise the grammar's 1 MB of WebAssembly in the
// background and wait seconds for that at exit; the baseline compiler
// parses our scripts in milliseconds.
v8.setFlagsFromString('--liftoff-only');
const { Parser, Language } = await import('web-tree-sitter');

const here = dirname(fileURLToPath(import.meta.url));
let parser;
try {
  await Parser.init();
  const lang = await Language.load(join(here, 'node_modules', 'tree-sitter-powershell', 'tree-sitter-powershell.wasm'));
  parser = new Parser();
  parser.setLanguage(lang);
} catch (e) {
  console.error(`cannot load the PowerShell grammar: ${e.message} (run npm ci --ignore-scripts in ${here})`);
  process.exit(2);
}

function errors(node, out) {
  if (node.isError || node.isMissing) {
    out.push(node);
    return;
  }
  if (!node.hasError) return;
  for (const child of node.children) errors(child, out);
}

let bad = 0;
for (const file of process.argv.slice(2)) {
  const src = readFileSync(file, 'utf8');
  const tree = parser.parse(src);
  const found = [];
  errors(tree.rootNode, found);
  if (found.length === 0) {
    console.log(`${file}: ok`);
    continue;
  }
  bad++;
  const lines = src.split('\n');
  for (const n of found) {
    const p = n.startPosition, e = n.endPosition;
    const what = n.isMissing ? `missing ${n.type}` : `syntax error (the grammar could not parse lines ${p.row + 1}-${e.row + 1})`;
    console.log(`${file}:${p.row + 1}:${p.column + 1}: ${what}: ${JSON.stringify((lines[p.row] || '').trim())}`);
  }
}
process.exit(bad > 0 ? 1 : 0);
