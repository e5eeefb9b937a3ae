/**
 * The shipper's on-disk overflow: events Vigil could not take yet, as NDJSON segment files
 * `seg-<seq>.ndjson` in the data directory, replayed oldest first. Relied on by shipper.ts;
 * a new shipper on the same directory resumes whatever an earlier one left.
 *
 * Durability: appends go to the OS without fsync (they survive a crash of the process, not a
 * power loss); a segment is fsynced when it is rotated and when the shipper closes, so a
 * power loss can cost at most the open segment's unsynced tail. Progress through a segment
 * is kept in `seg-<seq>.ack` (the number of lines Vigil has acknowledged); a crash between a
 * delivery and its ack re-sends those lines, which Vigil answers as duplicates (ids).
 *
 * Every operation runs in one queue, so a read of the oldest segment sees every append
 * started before it.
 */
import { mkdir, open, readdir, readFile, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import path from 'node:path'

interface Segment {
  seq: number
  file: string
  bytes: number
  /** Lines in the file (complete or not). */
  lines: number
  /** Lines already acknowledged by Vigil. */
  acked: number
}

export interface OutboxOptions {
  dir: string
  /** Total segment bytes allowed; lines beyond it are refused (the caller counts them dropped). */
  limitBytes: number
  /** A segment is rotated (fsynced, closed) once it holds this many bytes. */
  segmentBytes: number
}

/** The lines of the oldest segment that Vigil has not acknowledged yet. */
export interface SegmentRead {
  seq: number
  /** Lines acknowledged before this read (ack() takes the new total). */
  acked: number
  lines: string[]
}

const SEGMENT = /^seg-(\d{16})\.ndjson$/
const segName = (seq: number) => `seg-${String(seq).padStart(16, '0')}.ndjson`
const ackName = (seq: number) => `seg-${String(seq).padStart(16, '0')}.ack`
/** First sequence number of an empty directory; leaves room below for prepend(). */
const FIRST_SEQ = 1_000_000_000

function splitLines(text: string): string[] {
  const out: string[] = []
  for (const line of text.split('\n')) if (line !== '') out.push(line)
  return out
}

export class Outbox {
  readonly #o: OutboxOptions
  readonly #segments: Segment[] = []
  #current: { seg: Segment; fh: FileHandle } | undefined
  #queue: Promise<unknown> = Promise.resolve()
  #bytes = 0
  #events = 0

  constructor(options: OutboxOptions) {
    this.#o = options
  }

  /** Bytes held on disk. */
  get bytes(): number {
    return this.#bytes
  }

  /** Events on disk not yet acknowledged by Vigil. */
  get events(): number {
    return this.#events
  }

  #run<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(op, op)
    this.#queue = next.catch(() => undefined)
    return next
  }

  /** Creates the directory and takes over the segments an earlier shipper left there. */
  open(): Promise<void> {
    return this.#run(async () => {
      await mkdir(this.#o.dir, { recursive: true })
      const names = (await readdir(this.#o.dir)).filter((n) => SEGMENT.test(n)).sort()
      for (const name of names) {
        const seq = Number(SEGMENT.exec(name)?.[1])
        const file = path.join(this.#o.dir, name)
        const text = await readFile(file, 'utf8')
        const lines = splitLines(text).length
        let acked = 0
        try {
          const n = Number((await readFile(path.join(this.#o.dir, ackName(seq)), 'utf8')).trim())
          if (Number.isSafeInteger(n) && n > 0) acked = Math.min(n, lines)
        } catch {
          // no ack file: nothing of this segment was acknowledged
        }
        const bytes = (await stat(file)).size
        this.#segments.push({ seq, file, bytes, lines, acked })
        this.#bytes += bytes
        this.#events += lines - acked
      }
    })
  }

  /**
   * Appends lines after everything on disk. Lines past the byte limit are not written;
   * returns how many were written (the rest are the caller's to count as dropped).
   */
  append(lines: readonly string[]): Promise<number> {
    return this.#run(async () => {
      const take = this.#fitting(lines)
      if (take === 0) return 0
      if (!this.#current) {
        const last = this.#segments[this.#segments.length - 1]
        const seq = last ? last.seq + 1 : FIRST_SEQ
        const seg: Segment = { seq, file: path.join(this.#o.dir, segName(seq)), bytes: 0, lines: 0, acked: 0 }
        const fh = await open(seg.file, 'a')
        this.#segments.push(seg)
        this.#current = { seg, fh }
      }
      const cur = this.#current
      const buf = Buffer.from(lines.slice(0, take).join('\n') + '\n', 'utf8')
      await cur.fh.write(buf)
      cur.seg.bytes += buf.length
      cur.seg.lines += take
      this.#bytes += buf.length
      this.#events += take
      if (cur.seg.bytes >= this.#o.segmentBytes) await this.#rotate()
      return take
    })
  }

  /**
   * Writes lines as a segment before every other (a batch that was in flight when the shipper
   * closed is older than anything spilled meanwhile). Fsynced. Returns the lines written.
   */
  prepend(lines: readonly string[]): Promise<number> {
    return this.#run(async () => {
      const take = this.#fitting(lines)
      if (take === 0) return 0
      const first = this.#segments[0]
      const seq = first ? first.seq - 1 : FIRST_SEQ
      const seg: Segment = { seq, file: path.join(this.#o.dir, segName(seq)), bytes: 0, lines: take, acked: 0 }
      const buf = Buffer.from(lines.slice(0, take).join('\n') + '\n', 'utf8')
      const fh = await open(seg.file, 'w')
      try {
        await fh.write(buf)
        await fh.sync()
      } finally {
        await fh.close()
      }
      seg.bytes = buf.length
      this.#segments.unshift(seg)
      this.#bytes += buf.length
      this.#events += take
      return take
    })
  }

  /** How many of these lines fit under the byte limit. */
  #fitting(lines: readonly string[]): number {
    let room = this.#o.limitBytes - this.#bytes
    let n = 0
    for (const line of lines) {
      const size = Buffer.byteLength(line, 'utf8') + 1
      if (size > room) break
      room -= size
      n++
    }
    return n
  }

  async #rotate(): Promise<void> {
    const cur = this.#current
    if (!cur) return
    this.#current = undefined
    try {
      await cur.fh.sync()
    } finally {
      await cur.fh.close()
    }
  }

  /** The oldest segment's unacknowledged lines; the open segment is rotated first so it stops growing. */
  readOldest(): Promise<SegmentRead | undefined> {
    return this.#run(async () => {
      for (;;) {
        const seg = this.#segments[0]
        if (!seg) return undefined
        if (this.#current?.seg === seg) await this.#rotate()
        const lines = splitLines(await readFile(seg.file, 'utf8')).slice(seg.acked)
        if (lines.length > 0) return { seq: seg.seq, acked: seg.acked, lines }
        await this.#remove(seg)
      }
    })
  }

  /** Records that the first `ackedTotal` lines of segment `seq` reached Vigil; a finished segment is deleted. */
  ack(seq: number, ackedTotal: number): Promise<void> {
    return this.#run(async () => {
      const seg = this.#segments.find((s) => s.seq === seq)
      if (!seg || ackedTotal <= seg.acked) return
      const n = Math.min(ackedTotal, seg.lines)
      this.#events -= n - seg.acked
      seg.acked = n
      if (seg.acked >= seg.lines && this.#current?.seg !== seg) await this.#remove(seg)
      else await writeFile(path.join(this.#o.dir, ackName(seq)), String(seg.acked))
    })
  }

  async #remove(seg: Segment): Promise<void> {
    const i = this.#segments.indexOf(seg)
    if (i !== -1) this.#segments.splice(i, 1)
    this.#bytes -= seg.bytes
    this.#events -= seg.lines - seg.acked
    await unlink(seg.file).catch(() => undefined)
    await unlink(path.join(this.#o.dir, ackName(seg.seq))).catch(() => undefined)
  }

  /** Fsyncs and closes the open segment. */
  close(): Promise<void> {
    return this.#run(() => this.#rotate())
  }
}
