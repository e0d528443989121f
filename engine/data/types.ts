/**
 * A dataset as the engine sees it: numeric feature columns and (optionally) one label column, rows in file order
 * (or generated order for builtins), before any shuffle or split.
 */
export interface Dataset {
  /** For messages: the file name or the builtin's name. */
  name: string;
  rows: number;
  featureNames: string[];
  /** rows x featureNames.length, row-major. */
  features: Float32Array;
  label?: DatasetLabel;
}

export interface DatasetLabel {
  name: string;
  /** `class`: values are class indices 0..K-1 (classes lists their names); `real`: values as they are. */
  kind: 'class' | 'real';
  values: Float32Array;
  classes?: string[];
}

/** The `data` section of a project file (project-format.md). */
export type DataSpec =
  | ({ kind: 'builtin'; name: string; samples?: number; classes?: number; noise?: number } & SplitSpec)
  | ({ kind: 'csv'; path: string; label?: string; features?: string[]; standardize?: boolean; classes?: string[] } & SplitSpec)
  | ({ kind: 'idx'; images: string; labels?: string } & SplitSpec)
  | ({ kind: 'inline'; columns: Record<string, number[]>; label?: string } & SplitSpec);

export interface SplitSpec {
  validation?: number;
  shuffle?: boolean;
  standardize?: boolean;
}
