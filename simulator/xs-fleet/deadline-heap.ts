/*
 * The fleet's scheduler: a binary min-heap of (deadline, device) in typed
 * arrays, so ordering ten thousand devices' timers allocates nothing per
 * sample. Ties go to the lower device index, which keeps a virtual-time run
 * deterministic. Entries are not removed when a device's deadline moves; the
 * fleet skips an entry that no longer matches its device (lazy deletion).
 */
export class DeadlineHeap {
  #deadlines = new Float64Array(1024);
  #devices = new Uint32Array(1024);
  size = 0;

  push(deadline: number, device: number): void {
    if (this.size === this.#deadlines.length) this.#grow();
    let at = this.size++;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.#before(deadline, device, this.#deadlines[parent], this.#devices[parent])) break;
      this.#deadlines[at] = this.#deadlines[parent];
      this.#devices[at] = this.#devices[parent];
      at = parent;
    }
    this.#deadlines[at] = deadline;
    this.#devices[at] = device;
  }

  topDeadline(): number {
    return this.#deadlines[0];
  }

  topDevice(): number {
    return this.#devices[0];
  }

  pop(): void {
    const last = --this.size;
    if (last <= 0) return;
    const deadline = this.#deadlines[last];
    const device = this.#devices[last];
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= last) break;
      const right = left + 1;
      const child = right < last && this.#before(this.#deadlines[right], this.#devices[right], this.#deadlines[left], this.#devices[left]) ? right : left;
      if (!this.#before(this.#deadlines[child], this.#devices[child], deadline, device)) break;
      this.#deadlines[at] = this.#deadlines[child];
      this.#devices[at] = this.#devices[child];
      at = child;
    }
    this.#deadlines[at] = deadline;
    this.#devices[at] = device;
  }

  clear(): void {
    this.size = 0;
  }

  #before(d1: number, i1: number, d2: number, i2: number): boolean {
    return d1 < d2 || (d1 === d2 && i1 < i2);
  }

  #grow(): void {
    const deadlines = new Float64Array(this.#deadlines.length * 2);
    deadlines.set(this.#deadlines);
    const devices = new Uint32Array(this.#devices.length * 2);
    devices.set(this.#devices);
    this.#deadlines = deadlines;
    this.#devices = devices;
  }
}
