/**
 * Human-readable numbers for progress output and summaries (binary byte units, short durations).
 * Never used in logs' structured fields, which keep raw numbers.
 */

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** `1536` → `"1.5 KiB"`; bytes below 1 KiB stay integers (`"512 B"`). */
export function formatBytes(bytes: number): string {
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${BYTE_UNITS[i]}`;
}

/** Milliseconds → `"850 ms"`, `"12.3 s"`, `"4m05s"`, `"2h03m"`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const totalS = Math.round(s);
  if (totalS < 3600) return `${Math.floor(totalS / 60)}m${String(totalS % 60).padStart(2, '0')}s`;
  return `${Math.floor(totalS / 3600)}h${String(Math.floor((totalS % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * A rate per second with thousands separators: `12345.6` → `"12,346"`. (Not `toLocaleString`:
 * its first call loads ICU data, ~25 ms of CPU at the end of every job.)
 */
export function formatRate(perSecond: number): string {
  return Number.isFinite(perSecond) ? String(Math.round(perSecond)).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : '?';
}
