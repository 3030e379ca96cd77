/**
 * Test TLS terminators: joins an accepted (decrypted) connection to a plain TCP upstream on
 * 127.0.0.1, both ways, each side closed when the other closes or fails.
 */
import net from 'node:net';

/** Pipes `clear` to and from a new connection to `127.0.0.1:port`. */
export function spliceTo(clear: net.Socket, port: number): void {
  const up = net.connect(port, '127.0.0.1');
  clear.pipe(up).pipe(clear);
  clear.on('error', () => up.destroy());
  up.on('error', () => clear.destroy());
  clear.on('close', () => up.destroy());
  up.on('close', () => clear.destroy());
}
