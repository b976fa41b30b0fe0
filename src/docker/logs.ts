import { Transform, type TransformCallback } from "node:stream";

/** Docker frames the logs of a container without a TTY: 1 byte stream, 3 zero bytes, 4 bytes size. */
const HEADER_BYTES = 8;

/**
 * Turns Docker's multiplexed log stream into the plain text the container wrote, stdout and
 * stderr interleaved in the order Docker recorded them (as `docker logs` shows them).
 */
export function demuxLogStream(): Transform {
  let buffered: Buffer = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (buffered.length >= HEADER_BYTES) {
        const size = buffered.readUInt32BE(4);
        if (buffered.length < HEADER_BYTES + size) break;
        this.push(buffered.subarray(HEADER_BYTES, HEADER_BYTES + size));
        buffered = buffered.subarray(HEADER_BYTES + size);
      }
      done();
    },
  });
}

/** The text of a multiplexed log buffer (a logs call without follow). */
export function demuxLogBuffer(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + HEADER_BYTES <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + HEADER_BYTES, Math.min(buffer.length, offset + HEADER_BYTES + size)));
    offset += HEADER_BYTES + size;
  }
  return Buffer.concat(parts).toString("utf8");
}
