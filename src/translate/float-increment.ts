/**
 * `INCRBYFLOAT` / `HINCRBYFLOAT` replayed with Dragonfly's arithmetic, so the target ends with the
 * byte-exact string the master holds (issue 13; reference §6.1: both are journaled as typed).
 *
 * Dragonfly (v1.40.1) adds in `double` and stores `RedisReplyBuilderBase::FormatDouble`
 * (src/facade/reply_builder.cc): double-conversion `ToShortest` with `UNIQUE_ZERO |
 * EMIT_POSITIVE_EXPONENT_SIGN`, `"inf"`/`"nan"`, decimal notation for decimal exponents in [-6, 21)
 * and `d.ddde±x` outside (`1e-7`, `1.1111111111111111e+21`). Redis adds in `long double` and prints
 * with `%.17Lg` trimmed, so a plain pass-through drifts (`0.1` three times: Dragonfly
 * `0.30000000000000004`, Redis `0.3`) and every later increment builds on the drift.
 *
 * The increment is therefore applied by {@link FLOAT_INCR_SCRIPT} (Lua numbers are doubles):
 * read, add, format the shortest round-trip string, write back. {@link formatDouble} is the same
 * algorithm in TypeScript (tested against V8's `Number#toString`, which is the same `ToShortest`).
 */
import { createHash } from 'node:crypto';

// --- the shortest round-trip formatter, twin of the Lua one --------------------------------------

const F64 = new Float64Array(1);
const U64 = new BigUint64Array(F64.buffer);
const MANTISSA_MASK = (1n << 52n) - 1n;

const POWERS_OF_TEN: bigint[] = [];
const powerOfTen = (n: number): bigint => (POWERS_OF_TEN[n] ??= 10n ** BigInt(n));

/** Leading significant digits of a double, as {@link leadingDigits} computes them. */
interface Lead {
  /** At least 20 significant digits, truncated. */
  digits: string;
  /** Decimal exponent of the first digit. */
  exp: number;
  /** Index of the last non-zero digit in `digits`. */
  lastNonZero: number;
  /** True when non-zero digits were cut off. */
  isInexact: boolean;
}

/** Significant decimal digits of `a` (> 0, finite), exactly (BigInt), with the truncation flag. */
function leadingDigits(a: number): Lead {
  F64[0] = a;
  const bits = U64[0]!;
  const biased = Number((bits >> 52n) & 0x7ffn);
  const mantissa = biased === 0 ? bits & MANTISSA_MASK : (bits & MANTISSA_MASK) | (1n << 52n);
  const e2 = biased === 0 ? -1074 : biased - 1075;
  // a × 10^k with about 21 integer digits (the estimate may be one off; 20 are enough).
  const k = 20 - Math.floor(Math.log10(a));
  let num = mantissa;
  let den = 1n;
  if (e2 >= 0) num <<= BigInt(e2);
  else den <<= BigInt(-e2);
  if (k >= 0) num *= powerOfTen(k);
  else den *= powerOfTen(-k);
  const q = num / den;
  const digits = q.toString();
  let lastNonZero = digits.length - 1;
  while (digits.charCodeAt(lastNonZero) === 48) lastNonZero--;
  return { digits, exp: digits.length - 1 - k, lastNonZero, isInexact: q * den !== num };
}

/** Adds one unit in the last place of a digit string; a carry out of the first digit bumps `exp`. */
function bumpDigits(digits: string, exp: number): { digits: string; exp: number } {
  let i = digits.length - 1;
  while (i >= 0 && digits.charCodeAt(i) === 57) i--;
  if (i < 0) return { digits: `1${'0'.repeat(digits.length - 1)}`, exp: exp + 1 };
  return { digits: digits.slice(0, i) + String.fromCharCode(digits.charCodeAt(i) + 1) + '0'.repeat(digits.length - 1 - i), exp };
}

/** `%.{p-1}e` of a positive double as printf (glibc) does it: correctly rounded, ties to even. */
function roundToDigits(lead: Lead, p: number): { digits: string; exp: number; isUp: boolean } {
  const { digits, exp } = lead;
  const kept = digits.slice(0, p);
  const next = digits.charCodeAt(p) - 48;
  const isTie = next === 5 && lead.lastNonZero === p && !lead.isInexact;
  const isUp = next > 5 || (next === 5 && (!isTie || (kept.charCodeAt(p - 1) - 48) % 2 === 1));
  if (!isUp) return { digits: kept, exp, isUp };
  const up = bumpDigits(kept, exp);
  return { digits: up.digits, exp: up.exp, isUp };
}

const asNumber = (digits: string, exp: number): number => Number(`${digits[0]}.${digits.slice(1)}e${exp}`);

/**
 * The p-digit form of `a` that reads back as `a`, if any: the correctly rounded one, or for a power
 * of two (whose read-back interval is twice as wide above as below) the next one up when the
 * rounded one is below and falls short.
 */
function candidate(lead: Lead, p: number, a: number, isPowerOfTwo: boolean): { digits: string; exp: number } | undefined {
  const r = roundToDigits(lead, p);
  if (asNumber(r.digits, r.exp) === a) return r;
  if (isPowerOfTwo && !r.isUp) {
    const up = bumpDigits(r.digits, r.exp);
    if (asNumber(up.digits, up.exp) === a) return up;
  }
  return undefined;
}

/**
 * Dragonfly's `RedisReplyBuilderBase::FormatDouble` (src/facade/reply_builder.cc, v1.40.1): the
 * shortest decimal string that reads back as `x` (the closest one when several have that length),
 * `-0` → `"0"`, `inf`/`-inf`/`nan`, decimal notation for decimal exponents -6…20, else
 * `d[.ddd]e+x` / `d[.ddd]e-x`.
 *
 * Same algorithm as the Lua formatter in {@link FLOAT_INCR_SCRIPT}: the shortest form has the
 * fewest significant digits p (1…17) whose correctly rounded p-digit form (`%.{p-1}e`) reads back
 * as `x` ({@link candidate} also covers powers of two). "Reads back" holds for every p above the
 * smallest (the p-digit form is also a (p+1)-digit one), so p is found by binary search: 4 or 5
 * tries instead of up to 17 (the script's cost is mostly these `string.format` calls).
 */
export function formatDouble(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return '0';
  const a = Math.abs(x);
  const lead = leadingDigits(a);
  F64[0] = a;
  const isPowerOfTwo = (U64[0]! & MANTISSA_MASK) === 0n;
  let best = candidate(lead, 17, a, isPowerOfTwo)!;
  let lo = 1;
  let hi = 17;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const c = candidate(lead, mid, a, isPowerOfTwo);
    if (c !== undefined) {
      best = c;
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  const { digits, exp } = best;
  return (x < 0 ? '-' : '') + layout(digits.replace(/0+$/, ''), exp);
}

/** double-conversion `CreateDecimalRepresentation` / `CreateExponentialRepresentation` with Dragonfly's flags. */
function layout(digits: string, exp: number): string {
  const n = digits.length;
  if (exp >= -6 && exp < 21) {
    if (exp >= n - 1) return digits + '0'.repeat(exp - n + 1);
    if (exp >= 0) return `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
    return `0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  const mantissa = n > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${mantissa}e${exp >= 0 ? '+' : '-'}${Math.abs(exp)}`;
}

// --- parsing the increment as Dragonfly does --------------------------------------------------------

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const ABSL_SPACE = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;

/**
 * The increment argument as Dragonfly's command parser reads it: `absl::SimpleAtod` (surrounding
 * ASCII whitespace, a leading `+`, `inf`/`infinity`/`nan` in any case, overflow → ±inf) —
 * `CmdArgParser::Next<double>` in src/facade/cmd_arg_parser.h. Undefined when it would not parse
 * (the journal only carries commands that succeeded, so this means a record we do not understand).
 */
export function parseIncrement(arg: Buffer): number | undefined {
  if (arg.length === 0 || arg.length > 400) return undefined;
  let s = arg.toString('latin1').replace(ABSL_SPACE, '');
  if (s.startsWith('+')) {
    s = s.slice(1);
    if (s.startsWith('-')) return undefined;
  }
  const body = s.startsWith('-') ? s.slice(1) : s;
  const lower = body.toLowerCase();
  if (lower === 'inf' || lower === 'infinity') return s.startsWith('-') ? -Infinity : Infinity;
  if (lower === 'nan') return Number.NaN;
  if (!DECIMAL.test(s)) return undefined;
  return Number(s);
}

// --- the Lua script -------------------------------------------------------------------------------

/**
 * `KEYS[1]` = key; `ARGV` = `delta` (INCRBYFLOAT) or `field delta` (HINCRBYFLOAT), `delta` as
 * {@link formatDouble} prints it. Returns the stored string; refuses like Dragonfly: a value that is
 * not a float (`ParseDouble`, src/server/common.cc: decimal or `inf`, no spaces, no hex, no `nan`)
 * → `ERR value is not a valid float` / `ERR hash value is not a float`; a NaN or infinite sum →
 * `ERR increment would produce NaN or Infinity`. A missing string key gets the increment itself
 * (`OpIncrFloat` stores `FormatDouble(val)` unchecked, string_family.cc); a missing field gets
 * `0 + delta`, checked (`IncrementValue`, hset_family.cc). `SET … KEEPTTL` keeps the key's TTL.
 */
const LUA_SOURCE = `
local function bump(ds)
  local i = #ds
  while i > 0 do
    local c = string.byte(ds, i)
    if c < 57 then return string.sub(ds, 1, i - 1) .. string.char(c + 1) .. string.rep('0', #ds - i), 0 end
    i = i - 1
  end
  return '1' .. string.rep('0', #ds - 1), 1
end
local FMT = {}
for p = 0, 16 do FMT[p] = '%.' .. p .. 'e' end
local function try(x, p, pow2)
  local s = string.format(FMT[p], x)
  local a, b, ex = string.match(s, '^(%d)%.?(%d*)e([-+]%d+)$')
  local y = tonumber(s)
  if y == x then return a .. b, tonumber(ex) end
  if pow2 and y < x then
    local up, carry = bump(a .. b)
    local ue = tonumber(ex) + carry
    if tonumber(string.sub(up, 1, 1) .. '.' .. string.sub(up, 2) .. 'e' .. ue) == x then return up, ue end
  end
  return nil
end
local function fmt(x)
  if x ~= x then return 'nan' end
  if x == math.huge then return 'inf' end
  if x == -math.huge then return '-inf' end
  if x == 0 then return '0' end
  local sign = ''
  if x < 0 then sign = '-'; x = -x end
  local pow2 = math.frexp(x) == 0.5
  local digits, e = try(x, 16, pow2)
  local lo, hi = 0, 16
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local d, de = try(x, mid, pow2)
    if d then digits, e, hi = d, de, mid else lo = mid + 1 end
  end
  digits = (string.gsub(digits, '0+$', ''))
  local n = #digits
  if e >= -6 and e < 21 then
    if e >= n - 1 then return sign .. digits .. string.rep('0', e - n + 1) end
    if e >= 0 then return sign .. string.sub(digits, 1, e + 1) .. '.' .. string.sub(digits, e + 2) end
    return sign .. '0.' .. string.rep('0', -e - 1) .. digits
  end
  local m = string.sub(digits, 1, 1)
  if n > 1 then m = m .. '.' .. string.sub(digits, 2) end
  if e >= 0 then return sign .. m .. 'e+' .. e end
  return sign .. m .. 'e' .. e
end
local function num(s)
  local l = string.lower(s)
  if l == 'inf' or l == '+inf' or l == 'infinity' then return math.huge end
  if l == '-inf' or l == '-infinity' then return -math.huge end
  local m = string.match(s, '^%-?(%d*%.?%d*)$') or string.match(s, '^%-?(%d*%.?%d*)[eE][-+]?%d+$')
  if m == nil or string.find(m, '%d') == nil then return nil end
  return tonumber(s)
end
local isHash = #ARGV == 2
local v
if isHash then v = redis.call('HGET', KEYS[1], ARGV[1]) else v = redis.call('GET', KEYS[1]) end
local d = tonumber(ARGV[#ARGV])
local r
if v == false and not isHash then
  r = d
else
  local b = 0
  if v ~= false then
    b = num(v)
    if b == nil then
      if isHash then return redis.error_reply('ERR hash value is not a float') end
      return redis.error_reply('ERR value is not a valid float')
    end
  end
  r = b + d
  if r ~= r or r == math.huge or r == -math.huge then return redis.error_reply('ERR increment would produce NaN or Infinity') end
end
local s = fmt(r)
if isHash then redis.call('HSET', KEYS[1], ARGV[1], s) else redis.call('SET', KEYS[1], s, 'KEEPTTL') end
return s
`;

/** A Lua script and its SHA1 (hex), as `SCRIPT LOAD` returns it. */
export interface LuaScript {
  body: Buffer;
  sha1: Buffer;
}

/** The float-increment script (see the comment on its source above); a `formatDouble` twin in Lua 5.1. */
export const FLOAT_INCR_SCRIPT: LuaScript = {
  body: Buffer.from(LUA_SOURCE),
  sha1: Buffer.from(createHash('sha1').update(LUA_SOURCE).digest('hex')),
};

const EVAL = Buffer.from('EVAL');
const ONE = Buffer.from('1');

/**
 * Journal `INCRBYFLOAT k delta` / `HINCRBYFLOAT k f delta` → `EVAL <script> 1 k [f] delta`, the delta
 * normalized ({@link parseIncrement} then {@link formatDouble}, which reads back exactly in Lua).
 * Undefined for a malformed record (wrong arity, a delta Dragonfly would not have accepted): the
 * caller passes it through and the target decides.
 */
export function floatIncrementCommand(args: Buffer[], isHash: boolean): Buffer[] | undefined {
  if (args.length !== (isHash ? 4 : 3)) return undefined;
  const delta = parseIncrement(args[args.length - 1]!);
  if (delta === undefined || (isHash && !Number.isFinite(delta))) return undefined;
  const d = Buffer.from(formatDouble(delta));
  return isHash ? [EVAL, FLOAT_INCR_SCRIPT.body, ONE, args[1]!, args[2]!, d] : [EVAL, FLOAT_INCR_SCRIPT.body, ONE, args[1]!, d];
}
