/**
 * One client socket: PRELOGIN → LOGIN7 → requests, one at a time, in arrival order. ATTENTION is
 * handled as soon as it arrives: a streaming response stops at the next row, ends its message,
 * and the acknowledgement (DONE with DONE_ATTN) follows as its own message (tds-notes.md, 3).
 */
import type net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { ConnectionDropped, ResponseStream } from "./response-stream.js";
import { parseLogin7, parseRpc, parseSqlBatch, preloginResponse, ProtocolError } from "./requests.js";
import type { FaultState } from "./faults.js";
import { SqlServerError, type SqlHandler, type SqlResultSet } from "./handler.js";
import {
  CURCMD_SELECT,
  DEFAULT_COLLATION,
  DoneStatus,
  EnvChangeKind,
  frame,
  PacketReader,
  PacketType,
  TokenWriter,
  writeColMetadata,
  writeDone,
  writeEnvChange,
  writeError,
  writeInfo,
  writeLoginAck,
  writeReturnStatus,
  writeRow,
  type DoneKind,
} from "./wire.js";

const SERVER_NAME = "OCTOHA-STANDIN";
const DEFAULT_PACKET_SIZE = 4096;

export interface ConnectionOptions {
  user: string;
  password: string;
  database: string;
  handler: SqlHandler;
  faults: FaultState;
}

export class TdsConnection {
  private readonly reader = new PacketReader();
  private readonly packetId = { next: 1 };
  private packetSize = DEFAULT_PACKET_SIZE;
  private loggedIn = false;
  private started = false;
  private parts: Buffer[] = [];
  private queue: Promise<void> = Promise.resolve();
  private attention = false;
  private transaction: Buffer | undefined;
  private transactionCounter = 0;

  constructor(
    private readonly socket: net.Socket,
    private readonly o: ConnectionOptions,
  ) {
    // Nagle would hold each response ~40 ms waiting for the client's delayed ACK.
    socket.setNoDelay(true);
    socket.on("data", (data: Buffer) => this.onData(data));
    socket.on("error", () => socket.destroy());
  }

  private onData(data: Buffer): void {
    // A client must open with PRELOGIN; a TLS ClientHello (TDS 8.0 "strict") or anything else is
    // cut at once, as a server without TDS 8.0 does, instead of waiting for a packet that never ends.
    if (!this.started) {
      this.started = true;
      if (data[0] !== PacketType.Prelogin) {
        this.socket.destroy();
        return;
      }
    }
    let packets;
    try {
      packets = this.reader.push(data);
    } catch {
      this.socket.destroy();
      return;
    }
    for (const packet of packets) {
      if (packet.type === PacketType.Attention) {
        this.attention = true;
        this.enqueue(() => this.acknowledgeAttention());
        continue;
      }
      this.parts.push(packet.payload);
      if (!packet.eom) continue;
      const body = Buffer.concat(this.parts);
      this.parts = [];
      const type = packet.type;
      this.enqueue(() => this.handleMessage(type, body));
    }
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((error: unknown) => {
      if (!(error instanceof ConnectionDropped)) this.socket.destroy();
    });
  }

  private async handleMessage(type: number, body: Buffer): Promise<void> {
    this.o.faults.received++;
    const latency = this.o.faults.faults.latencyMs;
    if (latency) await sleep(latency);
    if (this.socket.destroyed) return;
    switch (type) {
      case PacketType.Prelogin:
        return this.send(preloginResponse(), PacketType.TabularResult);
      case PacketType.Login7:
        return this.login(body);
      case PacketType.SqlBatch:
        if (!this.loggedIn) return this.refuseBeforeLogin();
        return this.sqlBatch(body);
      case PacketType.Rpc:
        if (!this.loggedIn) return this.refuseBeforeLogin();
        return this.rpc(body);
      case PacketType.TransactionManager:
        if (!this.loggedIn) return this.refuseBeforeLogin();
        return this.transactionRequest(body);
      default:
        return this.respondError(
          "done",
          new SqlServerError(4014, `Packet type 0x${type.toString(16)} is not supported by the octoha stand-in.`, 1, 20),
        );
    }
  }

  private refuseBeforeLogin(): void {
    this.socket.destroy();
  }

  // ---- login -----------------------------------------------------------------------------------

  private login(body: Buffer): void {
    const login = parseLogin7(body);
    const w = new TokenWriter(512);
    const wantedDb = login.database || this.o.database;
    if (login.userName !== this.o.user || login.password !== this.o.password) {
      // Like SQL Server: the client learns nothing about which part was wrong, and never sees the password.
      writeError(w, {
        number: 18456,
        state: 1,
        severity: 14,
        message: `Login failed for user '${login.userName}'.`,
        serverName: SERVER_NAME,
      });
      writeDone(w, "done", DoneStatus.Error);
      this.sendAndClose(w.take());
      return;
    }
    if (wantedDb.toLowerCase() !== this.o.database.toLowerCase()) {
      writeError(w, {
        number: 4060,
        state: 1,
        severity: 11,
        message: `Cannot open database "${wantedDb}" requested by the login. The login failed.`,
        serverName: SERVER_NAME,
      });
      writeError(w, {
        number: 18456,
        state: 1,
        severity: 14,
        message: `Login failed for user '${login.userName}'.`,
        serverName: SERVER_NAME,
      });
      writeDone(w, "done", DoneStatus.Error);
      this.sendAndClose(w.take());
      return;
    }
    this.packetSize = login.packetSize >= 512 && login.packetSize <= 32767 ? login.packetSize : DEFAULT_PACKET_SIZE;
    writeEnvChange(w, EnvChangeKind.Database, this.o.database, "master");
    writeInfo(w, {
      number: 5701,
      state: 2,
      severity: 0,
      message: `Changed database context to '${this.o.database}'.`,
      serverName: SERVER_NAME,
    });
    writeEnvChange(w, EnvChangeKind.Collation, DEFAULT_COLLATION, Buffer.alloc(0));
    writeEnvChange(w, EnvChangeKind.Language, "us_english", "");
    writeInfo(w, { number: 5703, state: 1, severity: 0, message: "Changed language setting to us_english.", serverName: SERVER_NAME });
    writeLoginAck(w, "Microsoft SQL Server");
    writeEnvChange(w, EnvChangeKind.PacketSize, String(this.packetSize), String(this.packetSize));
    writeDone(w, "done", DoneStatus.Final);
    this.loggedIn = true;
    this.send(w.take(), PacketType.TabularResult);
  }

  // ---- requests --------------------------------------------------------------------------------

  private async sqlBatch(body: Buffer): Promise<void> {
    const { sql } = parseSqlBatch(body);
    // tedious sends `set textsize …`, `set ansi_nulls on` … after login: session settings we accept as no-ops.
    const statements = sql
      .split(/[\r\n;]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    if (statements.length > 0 && statements.every((s) => /^set\s/i.test(s))) {
      const w = new TokenWriter(64);
      writeDone(w, "done", DoneStatus.Final);
      return this.send(w.take(), PacketType.TabularResult);
    }
    await this.execute(sql, {}, "batch");
  }

  private async rpc(body: Buffer): Promise<void> {
    let call;
    try {
      call = parseRpc(body);
    } catch (error) {
      if (error instanceof ProtocolError) return this.respondError("doneProc", new SqlServerError(error.number, error.message));
      throw error;
    }
    if (call.procedure.toLowerCase() !== "sp_executesql") {
      return this.respondError(
        "doneProc",
        new SqlServerError(2812, `Could not find stored procedure '${call.procedure}'. (The octoha stand-in only runs sp_executesql.)`, 62),
      );
    }
    const [statement, , ...named] = call.params;
    if (typeof statement?.value !== "string") {
      return this.respondError(
        "doneProc",
        new SqlServerError(214, "Procedure expects parameter '@statement' of type 'ntext/nchar/nvarchar'.", 2),
      );
    }
    const params: Record<string, unknown> = {};
    for (const p of named) params[p.name.replace(/^@/, "")] = p.value;
    await this.execute(statement.value, params, "rpc");
  }

  private async execute(sql: string, params: Record<string, unknown>, mode: "batch" | "rpc"): Promise<void> {
    const endKind: DoneKind = mode === "rpc" ? "doneProc" : "done";
    if (this.attention) return this.respondCancelled(endKind);
    let sets: SqlResultSet[];
    try {
      // mssql validates every pooled connection with `SELECT 1;`: answered here, whatever the handler.
      sets = /^\s*select\s+1\s*;?\s*$/i.test(sql)
        ? [{ columns: [{ name: "", type: "int" }], rows: [[1]] }]
        : await this.o.handler.execute(sql, params);
    } catch (error) {
      return this.respondError(endKind, asSqlServerError(error));
    }
    const out = new ResponseStream(this.socket, this.packetSize, this.packetId);
    const w = out.writer;
    let rowsSent = 0;
    try {
      for (const [index, set] of sets.entries()) {
        const last = index === sets.length - 1;
        writeColMetadata(w, set.columns);
        let count = 0;
        for await (const row of set.rows) {
          writeRow(w, set.columns, row);
          count++;
          rowsSent++;
          if (this.o.faults.takeRowDrop(rowsSent)) {
            await out.flushFull();
            this.socket.destroy();
            throw new ConnectionDropped();
          }
          await out.flushFull();
          if (this.attention) break;
        }
        if (this.attention) {
          writeDone(w, endKind, DoneStatus.Final);
          return await out.end();
        }
        const more = mode === "batch" && last ? 0 : DoneStatus.More;
        writeDone(w, mode === "rpc" ? "doneInProc" : "done", DoneStatus.Count | more, count, CURCMD_SELECT);
      }
      if (mode === "rpc") {
        writeReturnStatus(w, 0);
        writeDone(w, "doneProc", DoneStatus.Final);
      } else if (sets.length === 0) {
        writeDone(w, "done", DoneStatus.Final);
      }
      await out.end();
    } catch (error) {
      if (error instanceof ConnectionDropped) throw error;
      // A failure mid-stream still ends the message properly, with the error the client will raise.
      writeError(w, toMessage(asSqlServerError(error)));
      writeDone(w, endKind, DoneStatus.Error);
      await out.end();
    }
  }

  private async transactionRequest(body: Buffer): Promise<void> {
    const headers = body.readUInt32LE(0);
    const request = body.readUInt16LE(headers);
    const w = new TokenWriter(64);
    const BEGIN = 5;
    const COMMIT = 7;
    const ROLLBACK = 8;
    if (request === BEGIN) {
      const descriptor = Buffer.alloc(8);
      descriptor.writeBigUInt64LE(BigInt(++this.transactionCounter));
      this.transaction = descriptor;
      writeEnvChange(w, EnvChangeKind.BeginTransaction, descriptor, Buffer.alloc(0));
    } else if ((request === COMMIT || request === ROLLBACK) && this.transaction) {
      writeEnvChange(
        w,
        request === COMMIT ? EnvChangeKind.CommitTransaction : EnvChangeKind.RollbackTransaction,
        Buffer.alloc(0),
        this.transaction,
      );
      this.transaction = undefined;
    } else {
      return this.respondError(
        "done",
        new SqlServerError(
          3902,
          "The COMMIT/ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION (or the request type is not supported by the octoha stand-in).",
        ),
      );
    }
    writeDone(w, "done", DoneStatus.Final);
    this.send(w.take(), PacketType.TabularResult);
  }

  // ---- responses -------------------------------------------------------------------------------

  private respondError(endKind: DoneKind, error: SqlServerError): void {
    const w = new TokenWriter(256);
    for (const before of error.preceding) writeError(w, toMessage(before));
    writeError(w, toMessage(error));
    writeDone(w, endKind, DoneStatus.Error);
    this.send(w.take(), PacketType.TabularResult);
  }

  private respondCancelled(endKind: DoneKind): void {
    const w = new TokenWriter(32);
    writeDone(w, endKind, DoneStatus.Final);
    this.send(w.take(), PacketType.TabularResult);
  }

  private acknowledgeAttention(): Promise<void> {
    this.attention = false;
    const w = new TokenWriter(32);
    writeDone(w, "done", DoneStatus.Attention);
    this.send(w.take(), PacketType.TabularResult);
    return Promise.resolve();
  }

  private send(body: Buffer, type: number): void {
    if (this.socket.destroyed) return;
    this.socket.write(frame(type, body, this.packetSize, true, this.packetId));
  }

  private sendAndClose(body: Buffer): void {
    this.socket.end(frame(PacketType.TabularResult, body, this.packetSize, true, this.packetId));
  }
}

function asSqlServerError(error: unknown): SqlServerError {
  if (error instanceof SqlServerError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SqlServerError(50000, `octoha stand-in internal error: ${message}`);
}

function toMessage(e: SqlServerError) {
  return { number: e.number, state: e.state, severity: e.severity, message: e.message, serverName: SERVER_NAME };
}
