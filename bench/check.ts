/**
 * `df2redis check` against a minimal baseline in the same run (issue 10 §4): two redis-servers
 * loaded with the same data (`redis-cli --pipe`), then
 *
 * - the check: `df2redis check --source <a> --target <b> --rounds 0` as a child process (wall time,
 *   peak RSS from getrusage via a `--import` hook);
 * - the baseline: `SCAN` of a + pipelined `GET` (strings) or `HGETALL` (hashes) of each batch on
 *   both servers, the raw reply bytes of the two servers compared — what a hand-written
 *   redis-cli-level script does: raw sockets, replies counted without building values (the
 *   project's ReplyScanner), in this process. (Valid as a comparison only because both servers
 *   were loaded the same way, so equal data gives byte-equal replies.)
 *
 * Datasets: 1 M × 100-byte strings, and 100 K hashes of 100 fields (10-byte values). `BENCH_KEYS`
 * scales both (strings = BENCH_KEYS, hashes = BENCH_KEYS / 10). Goal: ≤ 1.5 × the baseline time,
 * peak RSS ≤ 200 MB.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RespReader, type RespValue } from '../src/decode/resp/resp-reader.js';
import { ReplyScanner } from '../src/sink/reply-scanner.js';
import { redisCliPipe, writeSetCommandsFile } from '../test/helpers/rdb-factory.js';
import { startRedisServer, type RedisServer } from '../test/helpers/redis-server.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const PEAK_RSS_HOOK = `data:text/javascript,process.on('exit',()=>process.stderr.write('peak-rss-kib '+process.resourceUsage().maxRSS+'\\n'))`;

/** Runs the check CLI; resolves with its wall time and peak RSS. @throws on an exit other than 0. */
function timedCheck(a: RedisServer, b: RedisServer): Promise<{ ms: number; rssMb: number; keys: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', PEAK_RSS_HOOK, CLI, 'check', '--source', a.url, '--target', b.url, '--rounds', '0', '--progress', 'none', '--log-level', 'warn'],
      { maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const ms = performance.now() - t0;
        if (err) return reject(new Error(`check exited ${String(err.code)}:\n${stdout}\n${stderr}`));
        const rss = /peak-rss-kib (\d+)/.exec(stderr);
        const keys = /^equal: ([\d,]+) keys compared/.exec(stdout);
        resolve({ ms, rssMb: rss ? Number(rss[1]) / 1024 : NaN, keys: keys ? Number(keys[1]!.replace(/,/g, '')) : NaN });
      },
    );
  });
}

/** A raw pipelined connection: write RESP text, then either parse `n` replies or collect their raw bytes. */
class Pipe {
  readonly #socket: net.Socket;
  readonly #reader: RespReader;
  readonly #scanner = new ReplyScanner({ onErrorReply: () => undefined, onCapturedReply: () => undefined });
  #isRaw = false;
  #chunks: Buffer[] = [];
  #replies: RespValue[] = [];
  #want = 0;
  #done: ((v: RespValue[]) => void) | undefined;
  #doneRaw: ((b: Buffer) => void) | undefined;
  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.#reader = new RespReader((v) => {
      this.#replies.push(v);
      if (this.#replies.length === this.#want) {
        const r = this.#replies;
        this.#replies = [];
        this.#done!(r);
      }
    });
    socket.on('data', (d: Buffer) => {
      if (!this.#isRaw) return this.#reader.push(d);
      this.#chunks.push(d);
      this.#scanner.scan(d);
      if (this.#scanner.replies === this.#want) {
        const b = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
        this.#chunks = [];
        this.#doneRaw!(b);
      }
    });
  }
  static async open(port: number, isRaw: boolean): Promise<Pipe> {
    const s = net.connect({ host: '127.0.0.1', port });
    await once(s, 'connect');
    s.setNoDelay(true);
    const p = new Pipe(s);
    p.#isRaw = isRaw;
    return p;
  }
  send(payload: string, n: number): Promise<RespValue[]> {
    this.#want = n;
    const p = new Promise<RespValue[]>((r) => (this.#done = r));
    this.#socket.write(payload);
    return p;
  }
  /** Raw mode: the bytes of the next `n` replies. */
  sendRaw(payload: string, n: number): Promise<Buffer> {
    this.#want = this.#scanner.replies + n;
    const p = new Promise<Buffer>((r) => (this.#doneRaw = r));
    this.#socket.write(payload);
    return p;
  }
  close(): void {
    this.#socket.destroy();
  }
}

function cmd(...args: Array<string | Buffer>): string {
  let s = `*${args.length}\r\n`;
  for (const a of args) {
    const t = typeof a === 'string' ? a : a.toString('latin1');
    s += `$${Buffer.byteLength(t, 'latin1')}\r\n${t}\r\n`;
  }
  return s;
}

/** SCAN a + pipelined `read` of each batch on a and b, raw replies compared. Returns ms. @throws on a difference. */
async function baseline(a: RedisServer, b: RedisServer, read: 'GET' | 'HGETALL'): Promise<number> {
  const t0 = performance.now();
  const [scan, pa, pb] = await Promise.all([Pipe.open(a.port, false), Pipe.open(a.port, true), Pipe.open(b.port, true)]);
  try {
    let cursor = '0';
    do {
      const [[next, keys]] = (await scan.send(cmd('SCAN', cursor, 'COUNT', '1000'), 1)) as [[Buffer, Buffer[]]];
      cursor = next.toString('latin1');
      if (keys.length === 0) continue;
      const payload = keys.map((k) => cmd(read, k)).join('');
      const [ra, rb] = await Promise.all([pa.sendRaw(payload, keys.length), pb.sendRaw(payload, keys.length)]);
      if (!ra.equals(rb)) throw new Error('baseline: a batch differs');
    } while (cursor !== '0');
  } finally {
    scan.close();
    pa.close();
    pb.close();
  }
  return performance.now() - t0;
}

/** RESP of `count` × `HSET hash:<i> f0 v… f99 v…` into a temp file. */
async function hashCommandsFile(count: number, fields: number): Promise<string> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'df2redis-bench-check-')), 'hashes.resp');
  const out = createWriteStream(file);
  for (let i = 0; i < count; ) {
    let chunk = '';
    for (let j = 0; j < 200 && i < count; j++, i++) {
      const args = ['HSET', `hash:${String(i).padStart(8, '0')}`];
      for (let f = 0; f < fields; f++) args.push(`field:${f}`, `v${String((i * 31 + f) % 100_000_000).padStart(9, '0')}`);
      chunk += cmd(...args);
    }
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return file;
}

async function compare(label: string, file: string, read: 'GET' | 'HGETALL'): Promise<Record<string, number | string>> {
  const [a, b] = await Promise.all([startRedisServer(), startRedisServer()]);
  try {
    await redisCliPipe(a.port, file);
    await redisCliPipe(b.port, file);
    // Baseline first, then the check, then the baseline again (the better of the two counts): the
    // servers' caches are as warm for both.
    const base1 = await baseline(a, b, read);
    const run = await timedCheck(a, b);
    const base2 = await baseline(a, b, read);
    const base = Math.min(base1, base2);
    return {
      [`${label}: keys compared`]: run.keys,
      [`${label}: check time (s)`]: run.ms / 1000,
      [`${label}: baseline SCAN + ${read} time (s)`]: base / 1000,
      [`${label}: check / baseline time ratio`]: run.ms / base,
      [`${label}: check peak RSS (MB)`]: run.rssMb,
      [`${label}: goal ≤ 1.5 × baseline, ≤ 200 MB`]: run.ms / base <= 1.5 && run.rssMb <= 200 ? 'met' : 'MISSED',
    };
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

export async function run(): Promise<Record<string, number | string>> {
  const keys = Number(process.env.BENCH_KEYS ?? 1_000_000);
  const stringsFile = await writeSetCommandsFile({ count: keys, valueBytes: 100 });
  const hashesFile = await hashCommandsFile(Math.round(keys / 10), 100);
  try {
    return {
      ...(await compare(`${keys.toLocaleString('en-US')} × 100 B strings`, stringsFile, 'GET')),
      ...(await compare(`${Math.round(keys / 10).toLocaleString('en-US')} hashes × 100 fields`, hashesFile, 'HGETALL')),
    };
  } finally {
    rmSync(path.dirname(stringsFile), { recursive: true, force: true });
    rmSync(path.dirname(hashesFile), { recursive: true, force: true });
  }
}
