// Moddable's `time` module over the host's clock.
import { setWall, ticks } from "./clock.js";

const Time = {
  get ticks(): number {
    return ticks();
  },
  delta(start: number, end?: number): number {
    return (end ?? ticks()) - start;
  },
  get microseconds(): number {
    return ticks() * 1000;
  },
  set(seconds: number): void {
    setWall(seconds);
  },
  timezone: 0,
  dst: 0,
};

export default Time;
