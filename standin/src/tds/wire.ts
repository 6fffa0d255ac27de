/**
 * TDS 7.4 framing and token encoding for the stand-in ([MS-TDS]). Packet headers and PRELOGIN are
 * big-endian; tokens are little-endian except LOGINACK's TDS version (tds-notes.md, "strict").
 */

export const PacketType = {
  SqlBatch: 0x01,
  Rpc: 0x03,
  TabularResult: 0x04,
  Attention: 0x06,
  TransactionManager: 0x0e,
  Login7: 0x10,
  Prelogin: 0x12,
} as const;

export const HEADER_LENGTH = 8;
const STATUS_EOM = 0x01;

export const DoneStatus = { Final: 0x00, More: 0x01, Error: 0x02, InTransaction: 0x04, Count: 0x10, Attention: 0x20 } as const;
/** CurCmd for a SELECT in DONE tokens. */
export const CURCMD_SELECT = 0xc1;

const Token = {
  ColMetadata: 0x81,
  Error: 0xaa,
  Info: 0xab,
  LoginAck: 0xad,
  Row: 0xd1,
  EnvChange: 0xe3,
  ReturnStatus: 0x79,
  Done: 0xfd,
  DoneProc: 0xfe,
  DoneInProc: 0xff,
} as const;

/** SQL_Latin1_General_CP1_CI_AS, the default collation of a SQL Server install. */
export const DEFAULT_COLLATION = Buffer.from([0x09, 0x04, 0xd0, 0x00, 0x34]);

export type WireType = "nvarchar" | "int" | "bigint" | "bit" | "datetimeoffset";

/** Days from 0001-01-01 to 1970-01-01: DATETIMEOFFSET's date part counts from year 1. */
const DAYS_0001_TO_1970 = 719_162;
const MS_PER_DAY = 86_400_000;

/** A growable little-endian buffer for building token streams. */
export class TokenWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initial = 8192) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.len;
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + extra));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf.writeUInt8(v, this.len);
    this.len += 1;
    return this;
  }
  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16LE(v, this.len);
    this.len += 2;
    return this;
  }
  i16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16LE(v, this.len);
    this.len += 2;
    return this;
  }
  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.len);
    this.len += 4;
    return this;
  }
  i32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32LE(v, this.len);
    this.len += 4;
    return this;
  }
  u32be(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.len);
    this.len += 4;
    return this;
  }
  i64(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigInt64LE(v, this.len);
    this.len += 8;
    return this;
  }
  u64(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigUInt64LE(v, this.len);
    this.len += 8;
    return this;
  }
  /** Unsigned integer of `bytes` bytes (DATETIMEOFFSET's 5-byte time, 3-byte date). */
  uintN(v: number, bytes: number): this {
    this.ensure(bytes);
    this.buf.writeUIntLE(v, this.len, bytes);
    this.len += bytes;
    return this;
  }
  /** A string as UTF-16LE, written in place (no intermediate Buffer: this runs per value of every row). */
  utf16(s: string): this {
    this.ensure(s.length * 2);
    this.len += this.buf.write(s, this.len, "utf16le");
    return this;
  }
  raw(b: Buffer): this {
    this.ensure(b.length);
    b.copy(this.buf, this.len);
    this.len += b.length;
    return this;
  }
  /** B_VARCHAR: 1-byte character count, UCS-2. */
  bVarChar(s: string): this {
    return this.u8(s.length).raw(Buffer.from(s, "utf16le"));
  }
  /** US_VARCHAR: 2-byte character count, UCS-2. */
  usVarChar(s: string): this {
    return this.u16(s.length).raw(Buffer.from(s, "utf16le"));
  }

  /** Take the bytes written so far and start empty. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.len));
    this.len = 0;
    return out;
  }
  /** Take the first `n` bytes, keeping the rest. */
  takeFirst(n: number): Buffer {
    const out = Buffer.from(this.buf.subarray(0, n));
    this.buf.copy(this.buf, 0, n, this.len);
    this.len -= n;
    return out;
  }
}

/** Wraps one message body in packets of at most `packetSize` bytes (header included). */
export function frame(type: number, body: Buffer, packetSize: number, last: boolean, packetId: { next: number }): Buffer {
  const payload = packetSize - HEADER_LENGTH;
  const parts: Buffer[] = [];
  let offset = 0;
  do {
    const chunk = body.subarray(offset, offset + payload);
    offset += chunk.length;
    const eom = last && offset >= body.length;
    const header = Buffer.alloc(HEADER_LENGTH);
    header.writeUInt8(type, 0);
    header.writeUInt8(eom ? STATUS_EOM : 0, 1);
    header.writeUInt16BE(chunk.length + HEADER_LENGTH, 2);
    header.writeUInt16BE(0x0035, 4);
    header.writeUInt8(packetId.next, 6);
    packetId.next = (packetId.next + 1) % 256;
    parts.push(header, chunk);
  } while (offset < body.length);
  return Buffer.concat(parts);
}

export interface IncomingPacket {
  type: number;
  eom: boolean;
  payload: Buffer;
}

/** Splits a byte stream into packets; keeps a partial packet until the rest arrives. */
export class PacketReader {
  private pending: Buffer = Buffer.alloc(0);

  push(data: Buffer): IncomingPacket[] {
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    const out: IncomingPacket[] = [];
    while (this.pending.length >= HEADER_LENGTH) {
      const length = this.pending.readUInt16BE(2);
      if (length < HEADER_LENGTH) throw new Error(`TDS packet with impossible length ${length}`);
      if (this.pending.length < length) break;
      out.push({
        type: this.pending.readUInt8(0),
        eom: (this.pending.readUInt8(1) & STATUS_EOM) !== 0,
        payload: Buffer.from(this.pending.subarray(HEADER_LENGTH, length)),
      });
      this.pending = this.pending.subarray(length);
    }
    return out;
  }
}

// ---- tokens -----------------------------------------------------------------------------------

export function writeEnvChange(w: TokenWriter, kind: number, newValue: string | Buffer, oldValue: string | Buffer = ""): void {
  const body = new TokenWriter(64);
  body.u8(kind);
  for (const v of [newValue, oldValue]) {
    if (typeof v === "string") body.bVarChar(v);
    else body.u8(v.length).raw(v);
  }
  const bytes = body.take();
  w.u8(Token.EnvChange).u16(bytes.length).raw(bytes);
}

export const EnvChangeKind = {
  Database: 1,
  Language: 2,
  PacketSize: 4,
  Collation: 7,
  BeginTransaction: 8,
  CommitTransaction: 9,
  RollbackTransaction: 10,
} as const;

export function writeLoginAck(w: TokenWriter, progName: string): void {
  const body = new TokenWriter(64);
  body.u8(1); // interface: SQL_TSQL
  body.u32be(0x74000004); // TDS 7.4, big-endian
  body.bVarChar(progName);
  body.u8(16).u8(0).u8(0x10).u8(0x00); // program version 16.0.4096 (SQL Server 2022)
  const bytes = body.take();
  w.u8(Token.LoginAck).u16(bytes.length).raw(bytes);
}

export interface MessageToken {
  number: number;
  state: number;
  severity: number;
  message: string;
  serverName: string;
  procName?: string;
  line?: number;
}

function writeMessage(w: TokenWriter, token: number, m: MessageToken): void {
  const body = new TokenWriter(256);
  body
    .i32(m.number)
    .u8(m.state)
    .u8(m.severity)
    .usVarChar(m.message)
    .bVarChar(m.serverName)
    .bVarChar(m.procName ?? "")
    .i32(m.line ?? 1);
  const bytes = body.take();
  w.u8(token).u16(bytes.length).raw(bytes);
}

export function writeError(w: TokenWriter, m: MessageToken): void {
  writeMessage(w, Token.Error, m);
}

export function writeInfo(w: TokenWriter, m: MessageToken): void {
  writeMessage(w, Token.Info, m);
}

export type DoneKind = "done" | "doneProc" | "doneInProc";

export function writeDone(w: TokenWriter, kind: DoneKind, status: number, rowCount = 0, curCmd = 0): void {
  w.u8(kind === "done" ? Token.Done : kind === "doneProc" ? Token.DoneProc : Token.DoneInProc);
  w.u16(status).u16(curCmd).u64(BigInt(rowCount));
}

export function writeReturnStatus(w: TokenWriter, value: number): void {
  w.u8(Token.ReturnStatus).i32(value);
}

export interface WireColumn {
  name: string;
  type: WireType;
}

export function writeColMetadata(w: TokenWriter, columns: readonly WireColumn[]): void {
  w.u8(Token.ColMetadata).u16(columns.length);
  for (const c of columns) {
    w.u32(0).u16(0x0001); // UserType (4 bytes since 7.2), flags: nullable
    switch (c.type) {
      case "nvarchar":
        w.u8(0xe7).u16(0xffff).raw(DEFAULT_COLLATION); // NVARCHAR(MAX), sent as PLP
        break;
      case "int":
        w.u8(0x26).u8(4);
        break;
      case "bigint":
        w.u8(0x26).u8(8);
        break;
      case "bit":
        w.u8(0x68).u8(1);
        break;
      case "datetimeoffset":
        w.u8(0x2b).u8(7);
        break;
    }
    w.bVarChar(c.name);
  }
}

/** Thrown when a handler's value cannot be sent as its column's type: a stand-in bug, never silent. */
export class WireValueError extends Error {}

export function writeRow(w: TokenWriter, columns: readonly WireColumn[], row: readonly unknown[]): void {
  w.u8(Token.Row);
  columns.forEach((c, i) => writeValue(w, c, row[i]));
}

function writeValue(w: TokenWriter, c: WireColumn, v: unknown): void {
  const isNull = v === null || v === undefined;
  switch (c.type) {
    case "nvarchar": {
      if (isNull) {
        w.u32(0xffffffff).u32(0xffffffff); // PLP NULL: eight 0xFF bytes
        return;
      }
      // Total length (8 bytes: a string here is far below 4 GiB), one chunk, terminator.
      const s = typeof v === "string" ? v : String(v);
      w.u32(s.length * 2).u32(0);
      if (s.length > 0) w.u32(s.length * 2).utf16(s);
      w.u32(0); // PLP terminator
      return;
    }
    case "int":
      if (isNull) w.u8(0);
      else w.u8(4).i32(toInteger(c, v));
      return;
    case "bigint":
      if (isNull) w.u8(0);
      else w.u8(8).i64(typeof v === "bigint" ? v : BigInt(toInteger(c, v)));
      return;
    case "bit":
      if (isNull) w.u8(0);
      else w.u8(1).u8(v === true || v === 1 || v === 1n || v === "1" ? 1 : 0);
      return;
    case "datetimeoffset": {
      if (isNull) {
        w.u8(0);
        return;
      }
      const ms = v instanceof Date ? v.getTime() : Date.parse(String(v));
      if (Number.isNaN(ms)) throw new WireValueError(`column ${c.name}: ${String(v)} is not a date`);
      const days = Math.floor(ms / MS_PER_DAY);
      const msOfDay = ms - days * MS_PER_DAY;
      // UTC time in 100 ns units (scale 7), days since 0001-01-01, offset 0 minutes.
      w.u8(10)
        .uintN(msOfDay * 10_000, 5)
        .uintN(days + DAYS_0001_TO_1970, 3)
        .i16(0);
      return;
    }
  }
}

function toInteger(c: WireColumn, v: unknown): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new WireValueError(`column ${c.name}: ${String(v)} is not an integer`);
  return n;
}
