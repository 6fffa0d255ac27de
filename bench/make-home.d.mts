export interface MakeHomeOptions {
  out: string;
  preset?: "tiny" | "small" | "medium" | "large" | "huge";
  layout?: "flat" | "dirs";
  node?: number;
  seed?: number;
  collideWithNode?: number;
  collisions?: number;
  scheduled?: boolean;
  /** Override the preset's counts, and the median task-log size in bytes. */
  logs?: number;
  artifacts?: number;
  packages?: number;
  logMedian?: number;
}
export interface MakeHomeSummary {
  node: number;
  layout: string;
  files: number;
  bytes: number;
  kinds: Record<string, { files: number; bytes: number }>;
  collisions: string[];
}
export const PRESETS: Record<string, { logs: number; artifacts: number; packages: number; packageMiB: number; logMedian?: number }>;
export function makeHome(options: MakeHomeOptions): MakeHomeSummary;
