/**
 * Decoding of the client messages the stand-in understands: PRELOGIN, LOGIN7, SQL batch and RPC
 * (sp_executesql with typed parameters). Anything it cannot decode raises ProtocolError, which the
 * connection answers with a SQL Server-style error instead of guessing.
 */

export class ProtocolError extends Error {
  constructor(
    readonly number: number,
    message: string,
  ) {
    super(message);
  }
}

/** PRELOGIN response: version 16.0, encryption NOT_SUP, no instance, no MARS. */
export function preloginResponse(): Buffer {
  const options: [number, Buffer][] = [
    [0x00, Buffer.from([16, 0, 0x10, 0x00, 0, 0])], // VERSION
    [0x01, Buffer.from([0x02])], // ENCRYPTION: NOT_SUP
    [0x02, Buffer.from([0x00])], // INSTOPT
    [0x03, Buffer.alloc(4)], // THREADID
    [0x04, Buffer.from([0x00])], // MARS off
  ];
  const headerLength = options.length * 5 + 1;
  const header = Buffer.alloc(headerLength);
  let dataOffset = headerLength;
  options.forEach(([token, data], i) => {
    header.writeUInt8(token, i * 5);
    header.writeUInt16BE(dataOffset, i * 5 + 1);
    header.writeUInt16BE(data.length, i * 5 + 3);
    dataOffset += data.length;
  });
  header.writeUInt8(0xff, headerLength - 1);
  return Buffer.concat([header, ...options.map(([, d]) => d)]);
}

export interface Login7 {
  packetSize: number;
  userName: string;
  password: string;
  database: string;
  appName: string;
}

export function parseLogin7(p: Buffer): Login7 {
  if (p.length < 94)
    throw new ProtocolError(4014, "A fatal error occurred while reading the input stream from the network (LOGIN7 too short).");
  const str = (at: number): string => {
    const offset = p.readUInt16LE(at);
    const chars = p.readUInt16LE(at + 2);
    return p.toString("utf16le", offset, offset + chars * 2);
  };
  const pwOffset = p.readUInt16LE(44);
  const pwChars = p.readUInt16LE(46);
  // The password is obfuscated: each byte XOR 0xA5, then its nibbles swapped.
  const pw = Buffer.from(p.subarray(pwOffset, pwOffset + pwChars * 2)).map((b) => {
    const x = b ^ 0xa5;
    return ((x & 0x0f) << 4) | (x >> 4);
  });
  return {
    packetSize: p.readUInt32LE(8),
    userName: str(40),
    password: Buffer.from(pw).toString("utf16le"),
    appName: str(48),
    database: str(68),
  };
}

/** Skips ALL_HEADERS (TDS 7.2+) and returns the transaction descriptor it carried, if any. */
function skipAllHeaders(p: Buffer): { offset: number; transaction: Buffer | undefined } {
  const total = p.readUInt32LE(0);
  let transaction: Buffer | undefined;
  let at = 4;
  while (at < total) {
    const length = p.readUInt32LE(at);
    const type = p.readUInt16LE(at + 4);
    if (type === 2) transaction = Buffer.from(p.subarray(at + 6, at + 14));
    at += length;
  }
  return { offset: total, transaction };
}

export function parseSqlBatch(p: Buffer): { sql: string; transaction: Buffer | undefined } {
  const { offset, transaction } = skipAllHeaders(p);
  return { sql: p.toString("utf16le", offset), transaction };
}

export interface RpcCall {
  procedure: string;
  params: { name: string; value: unknown }[];
  transaction: Buffer | undefined;
}

/** ProcIDs [MS-TDS] 2.2.6.6. */
const PROC_NAMES: Record<number, string> = {
  10: "sp_executesql",
  11: "sp_prepare",
  12: "sp_execute",
  13: "sp_prepexec",
  15: "sp_unprepare",
};

const DAYS_1900_TO_1970 = 25_567;
const DAYS_0001_TO_1970 = 719_162;

class Cursor {
  constructor(
    private readonly p: Buffer,
    public at: number,
  ) {}
  get done(): boolean {
    return this.at >= this.p.length;
  }
  u8(): number {
    return this.p.readUInt8(this.at++);
  }
  u16(): number {
    const v = this.p.readUInt16LE(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    const v = this.p.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  bytes(n: number): Buffer {
    if (this.at + n > this.p.length)
      throw new ProtocolError(
        8009,
        "The incoming tabular data stream (TDS) remote procedure call (RPC) protocol stream is incorrect: value runs past the end of the message.",
      );
    const b = this.p.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }
  bVarChar(): string {
    const n = this.u8();
    return this.bytes(n * 2).toString("utf16le");
  }
}

export function parseRpc(p: Buffer): RpcCall {
  const { offset, transaction } = skipAllHeaders(p);
  const c = new Cursor(p, offset);
  const nameLength = c.u16();
  let procedure: string;
  if (nameLength === 0xffff) {
    const id = c.u16();
    procedure = PROC_NAMES[id] ?? `ProcID ${id}`;
  } else {
    procedure = c.bytes(nameLength * 2).toString("utf16le");
  }
  c.u16(); // option flags
  const params: { name: string; value: unknown }[] = [];
  let ordinal = 0;
  while (!c.done) {
    ordinal++;
    const name = c.bVarChar();
    c.u8(); // status flags (output parameters are not supported; the value is read the same way)
    params.push({ name, value: readTypedValue(c, ordinal, name) });
  }
  return { procedure, params, transaction };
}

function readTypedValue(c: Cursor, ordinal: number, name: string): unknown {
  const type = c.u8();
  switch (type) {
    case 0xe7: // NVARCHAR
    case 0xa7: {
      // VARCHAR (single-byte: read as latin1)
      const maxLength = c.u16();
      c.bytes(5); // collation
      const encoding = type === 0xe7 ? "utf16le" : "latin1";
      if (maxLength === 0xffff) return readPlp(c)?.toString(encoding) ?? null;
      const length = c.u16();
      return length === 0xffff ? null : c.bytes(length).toString(encoding);
    }
    case 0x26: {
      // INTN
      c.u8();
      const length = c.u8();
      const b = c.bytes(length);
      if (length === 0) return null;
      if (length === 1) return b.readUInt8(0);
      if (length === 2) return b.readInt16LE(0);
      if (length === 4) return b.readInt32LE(0);
      return b.readBigInt64LE(0);
    }
    case 0x68: {
      // BITN
      c.u8();
      const length = c.u8();
      return length === 0 ? null : c.bytes(1).readUInt8(0) !== 0;
    }
    case 0x6f: {
      // DATETIMEN: days since 1900-01-01, 1/300 s ticks
      c.u8();
      const length = c.u8();
      if (length === 0) return null;
      const b = c.bytes(length);
      if (length !== 8) throw unsupportedType(ordinal, name, "smalldatetime");
      const days = b.readInt32LE(0);
      const ticks = b.readUInt32LE(4);
      return new Date((days - DAYS_1900_TO_1970) * 86_400_000 + Math.round((ticks * 10) / 3));
    }
    case 0x2b: {
      // DATETIMEOFFSETN
      const scale = c.u8();
      const length = c.u8();
      if (length === 0) return null;
      const b = c.bytes(length);
      const timeBytes = length - 5;
      const time = b.readUIntLE(0, timeBytes);
      const days = b.readUIntLE(timeBytes, 3);
      const ms = time / 10 ** (scale - 3);
      return new Date((days - DAYS_0001_TO_1970) * 86_400_000 + Math.round(ms));
    }
    default:
      throw unsupportedType(ordinal, name, `0x${type.toString(16).padStart(2, "0")}`);
  }
}

function readPlp(c: Cursor): Buffer | null {
  const low = c.u32();
  const high = c.u32();
  if (low === 0xffffffff && high === 0xffffffff) return null;
  const chunks: Buffer[] = [];
  for (;;) {
    const length = c.u32();
    if (length === 0) break;
    chunks.push(c.bytes(length));
  }
  return Buffer.concat(chunks);
}

function unsupportedType(ordinal: number, name: string, type: string): ProtocolError {
  return new ProtocolError(
    8016,
    `The incoming tabular data stream (TDS) remote procedure call (RPC) protocol stream is incorrect. Parameter ${ordinal} ("${name}"): data type ${type} is not supported by the octoha stand-in (use nvarchar, int, bigint, bit, datetime or datetimeoffset).`,
  );
}
