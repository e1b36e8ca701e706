// ESLint parser for weft's TypeScript: Node erases the type syntax (replacing it with blanks, so every
// position stays where it was) and espree parses the JavaScript that remains. Type errors are tsc's job;
// ESLint only checks the code that runs, and weft's TypeScript is erasable by convention (erasableSyntaxOnly).
import { stripTypeScriptTypes } from 'node:module';
import process from 'node:process';

// The erasure is stable for erasable syntax; silence Node's one-time experimental notice in lint output.
const emit = process.emitWarning;
process.emitWarning = (w, ...rest) => (String(w).includes('stripTypeScriptTypes') ? undefined : emit.call(process, w, ...rest));
import * as espree from 'espree';

const options = { ecmaVersion: 'latest', sourceType: 'module', range: true, loc: true, comment: true, tokens: true };

export const meta = { name: 'weft-strip-types', version: '1' };

export function parse(code, parserOptions = {}) {
  const filePath = parserOptions.filePath ?? '';
  const js = filePath.endsWith('.ts') ? stripTypeScriptTypes(code, { mode: 'strip' }) : code;
  return espree.parse(js, options);
}
