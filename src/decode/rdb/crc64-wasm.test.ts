import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { assembleWat, renderWasmModule, REPO_ROOT, WASM_SOURCES } from '../../../scripts/build-wasm.js';

test('every generated WebAssembly module equals what wabt assembles from its .wat now (npm run build:wasm)', async () => {
  for (const s of WASM_SOURCES) {
    const bytes = await assembleWat(s.wat, readFileSync(REPO_ROOT + s.wat, 'utf8'));
    assert.ok(WebAssembly.validate(Buffer.from(bytes)), s.wat);
    assert.equal(readFileSync(REPO_ROOT + s.ts, 'utf8'), renderWasmModule(s.wat, s.name, bytes), `${s.ts} is stale: run npm run build:wasm`);
  }
});
