/**
 * Writes one response message in whole packets as it grows (large results stream instead of
 * piling up), honouring socket backpressure and letting other socket events in between chunks.
 */
import type net from "node:net";
import { setImmediate as yieldToIo } from "node:timers/promises";
import { frame, HEADER_LENGTH, PacketType, TokenWriter } from "./wire.js";

/** Raised inside a response when the socket is gone (or the fault knob cut it): stop writing, quietly. */
export class ConnectionDropped extends Error {}

/** Builds one response message and writes it in whole packets as it grows, honouring backpressure. */
export class ResponseStream {
  readonly writer = new TokenWriter(64 * 1024);
  private readonly payload: number;
  /** Write once this much is buffered: one socket write per ~16 packets. */
  private readonly threshold: number;

  constructor(
    private readonly socket: net.Socket,
    private readonly packetSize: number,
    private readonly packetId: { next: number },
  ) {
    this.payload = packetSize - HEADER_LENGTH;
    this.threshold = this.payload * 16;
  }

  async flushFull(): Promise<void> {
    if (this.writer.length < this.threshold) return;
    const whole = Math.floor(this.writer.length / this.payload) * this.payload;
    await this.write(frame(PacketType.TabularResult, this.writer.takeFirst(whole), this.packetSize, false, this.packetId));
  }

  async end(): Promise<void> {
    await this.write(frame(PacketType.TabularResult, this.writer.take(), this.packetSize, true, this.packetId));
  }

  private async write(bytes: Buffer): Promise<void> {
    if (this.socket.destroyed) throw new ConnectionDropped();
    if (this.socket.write(bytes)) {
      // Let socket events (an ATTENTION from the client, other connections) in between chunks.
      await yieldToIo();
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        resolve();
      };
      this.socket.on("drain", done);
      this.socket.on("close", done);
    });
  }
}
