// hv dap driven by Microsoft's DebugClient (@vscode/debugadapter-testsupport), the client
// VS Code's own adapters are tested with. Usage: node session.js HV PROGRAM CORE HV(0|1)
// Exits 0 when every step of the scripted session holds.
'use strict';
const assert = require('assert');
const { DebugClient } = require('@vscode/debugadapter-testsupport');

const [hv, program, core, hyper] = process.argv.slice(2);
const dc = new DebugClient(hv, 'dap', 'hv', {}, true);
dc.defaultTimeout = 30000;

async function main() {
  await dc.start();
  // initialize, launch, set a breakpoint on work's first line (24), configurationDone,
  // and the stop there: the library's own scenario.
  await dc.hitBreakpoint({ program, core, hypervisor: hyper === '1' },
                         { path: program, line: 24 });
  const threads = await dc.threadsRequest();
  assert.deepStrictEqual(threads.body.threads, [{ id: 1, name: 'cpu 0' }]);
  let st = await dc.stackTraceRequest({ threadId: 1 });
  assert.strictEqual(st.body.stackFrames[0].name, 'work');
  assert.strictEqual(st.body.stackFrames[1].line, 12);

  // Forward a line, back an instruction, out of the function.
  await Promise.all([dc.nextRequest({ threadId: 1 }),
                     dc.assertStoppedLocation('step', { path: program, line: 25 })]);
  await Promise.all([dc.stepBackRequest({ threadId: 1, granularity: 'instruction' }),
                     dc.assertStoppedLocation('step', { path: program, line: 24 })]);
  await Promise.all([dc.stepOutRequest({ threadId: 1 }),
                     dc.assertStoppedLocation('step', { path: program, line: 13 })]);

  // The second hit, then back to the first with reverseContinue.
  await Promise.all([dc.continueRequest({ threadId: 1 }),
                     dc.assertStoppedLocation('breakpoint', { path: program, line: 24 })]);
  let r10 = await dc.evaluateRequest({ expression: 'r10', context: 'watch' });
  assert.strictEqual(r10.body.result, '0x00000001 (1)');
  await Promise.all([dc.reverseContinueRequest({ threadId: 1 }),
                     dc.assertStoppedLocation('breakpoint', { path: program, line: 24 })]);
  r10 = await dc.evaluateRequest({ expression: 'r10', context: 'watch' });
  assert.strictEqual(r10.body.result, '0x00000000 (0)');

  // Registers, memory and disassembly as the views ask for them.
  const scopes = await dc.scopesRequest({ frameId: st.body.stackFrames[0].id });
  const regs = await dc.variablesRequest({ variablesReference: scopes.body.scopes[0].variablesReference });
  assert.ok(regs.body.variables.some(v => v.name === 'sp'));
  const ip = st.body.stackFrames[0].instructionPointerReference;
  const mem = await dc.customRequest('readMemory', { memoryReference: ip, count: 2 });
  assert.strictEqual(Buffer.from(mem.body.data, 'base64').toString('hex'), '5050');
  const dis = await dc.disassembleRequest({ memoryReference: ip, instructionCount: 3 });
  assert.strictEqual(dis.body.instructions[0].instruction, 'push r5');

  // A data breakpoint on `counter`.
  await dc.setBreakpointsRequest({ source: { path: program }, breakpoints: [] });
  const info = await dc.dataBreakpointInfoRequest({ name: 'counter' });
  await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId, accessType: 'write' }] });
  await Promise.all([dc.continueRequest({ threadId: 1 }), dc.assertStoppedLocation('data breakpoint', {})]);
  await dc.setDataBreakpointsRequest({ breakpoints: [] });

  // To the end: the console output, exited and terminated.
  await Promise.all([dc.continueRequest({ threadId: 1 }),
                     dc.assertOutput('stdout', 'A'),
                     dc.waitForEvent('exited'),
                     dc.waitForEvent('terminated')]);
  await dc.stop();
}

main().then(() => { console.log('ok'); process.exit(0); },
            (e) => { console.error('FAILED:', e && e.stack || e); dc.stopAdapter(); process.exit(1); });
