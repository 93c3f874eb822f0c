import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface SeriesSpec {
  label: string;
  color: string;
  /** Draw as bars (daily totals) instead of a line. */
  bars?: boolean;
}

/** A uPlot time chart that follows its container's width. `data[0]` is x (unix seconds), then one
 *  array per series. The wrapper carries the number of drawn points (data-points) so tests and
 *  people can tell an empty chart from a flat one. */
export function Chart(props: { title: string; series: SeriesSpec[]; data: (number | null)[][]; height?: number; yLabel?: string; minSpanS?: number; days?: boolean }) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const { title, series, height = 180 } = props;

  useEffect(() => {
    const element = container.current!;
    const styles = getComputedStyle(document.documentElement);
    const axisColor = styles.getPropertyValue('--muted').trim() || '#888';
    const gridColor = styles.getPropertyValue('--grid').trim() || 'rgba(128,128,128,0.2)';
    const axis = { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor, width: 1 } };
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      // A live chart spans at least minSpanS seconds, so its first seconds do not show millisecond ticks.
      scales: { x: { time: true, range: (_u, min, max) => (props.minSpanS && max - min < props.minSpanS ? [max - props.minSpanS, max] : [min, max]) }, y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max * 1.1)] } },
      // One line of tick labels: clock time for live charts, the UTC day for daily ones.
      axes: [
        {
          ...axis,
          space: 80,
          values: (_u, splits) =>
            splits.map((seconds) =>
              props.days
                ? new Date(seconds * 1000).toISOString().slice(5, 10)
                : new Date(seconds * 1000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }),
            ),
        },
        { ...axis, label: props.yLabel, size: 50 },
      ],
      series: [
        {},
        ...series.map((spec) => ({
          label: spec.label,
          stroke: spec.color,
          width: 2,
          fill: spec.bars ? spec.color : undefined,
          paths: spec.bars ? uPlot.paths.bars!({ size: [0.6, 40] }) : undefined,
          points: { show: false },
          spanGaps: false,
        })),
      ],
    };
    plot.current = new uPlot(options, props.data as uPlot.AlignedData, element);
    const observer = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, element.clientWidth), height }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // The series are fixed per chart; new data goes through setData below.
  }, [series.map((spec) => spec.label).join('|')]);

  useEffect(() => {
    plot.current?.setData(props.data as uPlot.AlignedData);
  }, [props.data]);

  const points = props.data.slice(1).reduce((sum, values) => sum + values.filter((value) => value !== null).length, 0);
  return (
    <figure class="chart" data-points={points} aria-label={title}>
      <figcaption>{title}</figcaption>
      <div ref={container} role="img" aria-label={`${title} chart`} />
    </figure>
  );
}
