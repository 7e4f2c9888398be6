import { SingleBar, Presets } from 'cli-progress';

/** Progress of long work: a bar (count, rate, time left) on a terminal, plain lines otherwise. Writes to stderr. */
export interface Progress {
  update(done: number, label?: string): void;
  stop(): void;
}

export function createProgress(title: string, total: number, unit = 'rows', stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) {
    const bar = new SingleBar(
      {
        format: `${title} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted} {label}`,
        stream,
        hideCursor: true,
        etaBuffer: 50,
      },
      Presets.shades_classic,
    );
    const started = Date.now();
    bar.start(total, 0, { rate: 0, label: '' });
    return {
      update(done, label = '') {
        bar.update(done, { rate: Math.round(done / Math.max((Date.now() - started) / 1000, 0.001)), label });
      },
      stop() {
        bar.stop();
      },
    };
  }
  const started = Date.now();
  let lastLine = 0;
  return {
    update(done, label = '') {
      const now = Date.now();
      if (now - lastLine < 1000 && done < total) return;
      lastLine = now;
      const secs = (now - started) / 1000;
      const rate = done / Math.max(secs, 0.001);
      const left = rate > 0 && total > done ? Math.round((total - done) / rate) : 0;
      stream.write(
        `${title}: ${done}/${total} ${unit} (${total ? Math.floor((100 * done) / total) : 100}%), ${Math.round(rate)}/s, ${left}s left${label ? ` ${label}` : ''}\n`,
      );
    },
    stop() {},
  };
}
