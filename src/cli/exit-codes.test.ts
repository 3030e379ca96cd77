import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommanderError } from 'commander';
import { CheckDifferencesError, ConfigError, ConnectionError, NotHealthyError, RdbError, StatusUnreachableError, TargetCommandError, UnsupportedTypesError, StoppedError } from '../errors.js';
import { describeError, EXIT_FAILED, EXIT_INTERNAL, EXIT_NOT_HEALTHY, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, EXIT_UNREACHABLE, EXIT_UNSUPPORTED, EXIT_USAGE } from './exit-codes.js';

test('typed errors map to their exit code and print their message without a stack', () => {
  const cases: Array<[Error, number]> = [
    [new ConfigError('--target is required'), EXIT_USAGE],
    [new StoppedError('SIGINT', 'the copy did not finish'), EXIT_SIGINT],
    [new StoppedError('SIGTERM', 'the full sync did not finish'), EXIT_SIGTERM],
    [new UnsupportedTypesError([{ db: 0, key: Buffer.from('k'), type: 'json' }], 1, 'hint'), EXIT_UNSUPPORTED],
    [new RdbError('TRUNCATED', 'stream ended', { offset: 9 }), EXIT_FAILED],
    [new TargetCommandError('SET', Buffer.from('k'), 'OOM command not allowed'), EXIT_FAILED],
    [new ConnectionError('target', '127.0.0.1:1', 'connect ECONNREFUSED'), EXIT_FAILED],
    [new StatusUnreachableError('http://127.0.0.1:1', 'connection refused'), EXIT_UNREACHABLE],
    [new NotHealthyError('http://127.0.0.1:1', 'stopped'), EXIT_NOT_HEALTHY],
    [new CheckDifferencesError(3, '3 key(s) differ between the source and the target'), EXIT_FAILED],
  ];
  for (const [err, code] of cases) {
    const d = describeError(err);
    assert.equal(d.exitCode, code, err.name);
    assert.equal(d.text, `df2redis: ${err.message}\n`);
    assert.doesNotMatch(d.text, /\n\s+at /);
  }
});

test('an unexpected error is an internal error with its stack', () => {
  const d = describeError(new TypeError('x is undefined'));
  assert.equal(d.exitCode, EXIT_INTERNAL);
  assert.match(d.text, /internal error/);
  assert.match(d.text, /TypeError: x is undefined\n\s+at /);
});

test('commander: help and version exit 0 (already printed), usage errors exit 2', () => {
  assert.deepEqual(describeError(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)')), { exitCode: EXIT_OK, text: '' });
  assert.deepEqual(describeError(new CommanderError(1, 'commander.unknownOption', "unknown option '--x'")), { exitCode: EXIT_USAGE, text: '' });
});
