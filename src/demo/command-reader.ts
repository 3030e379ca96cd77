/**
 * The server side of the Redis protocol, as much as a stand-in master needs: client commands
 * (inline `PING\r\n` or RESP multibulk) and simple replies. Used by the replay master.
 */

/** `+<s>\r\n` */
export function respSimple(s: string): Buffer {
  return Buffer.from(`+${s}\r\n`);
}

/** `-<message>\r\n` */
export function respError(message: string): Buffer {
  return Buffer.from(`-${message}\r\n`);
}

/** Parses client commands, inline or multibulk, calling `onCommand(args)` per command. Concatenates partial commands: for test and demo servers, not the hot path. */
export class CommandReader {
  #buf: Buffer = Buffer.alloc(0);
  readonly #onCommand: (args: Buffer[]) => void;

  constructor(onCommand: (args: Buffer[]) => void) {
    this.#onCommand = onCommand;
  }

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    for (;;) {
      const r = this.#one(this.#buf);
      if (r === undefined) return;
      this.#buf = this.#buf.subarray(r.next);
      this.#onCommand(r.args);
    }
  }

  #one(b: Buffer): { args: Buffer[]; next: number } | undefined {
    const eol = b.indexOf('\r\n');
    if (eol < 0) return undefined;
    if (b[0] !== 0x2a) {
      const line = b.subarray(0, eol).toString('latin1').trim();
      const args = line.length === 0 ? [] : line.split(/ +/).map((s) => Buffer.from(s, 'latin1'));
      return { args, next: eol + 2 };
    }
    const n = Number(b.subarray(1, eol).toString('latin1'));
    let p = eol + 2;
    const args: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const e = b.indexOf('\r\n', p);
      if (e < 0) return undefined;
      const len = Number(b.subarray(p + 1, e).toString('latin1'));
      if (e + 2 + len + 2 > b.length) return undefined;
      args.push(b.subarray(e + 2, e + 2 + len));
      p = e + 2 + len + 2;
    }
    return { args, next: p };
  }
}

