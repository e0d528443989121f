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
  /** A source column encoded as several features (a one-hot CSV column): its name -> their names, in order. */
  featureGroups?: Record<string, string[]>;
  /** Rows of the file that are not rows of the dataset (CSV `missing: drop`, `malformed: skip`). */
  dropped?: { missing: number; malformed: number };
  /** For image data: one example's [channels, height, width], its features being those pixels in NCHW order. */
  imageShape?: [number, number, number];
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
  | ({
      kind: 'csv';
      path: string;
      label?: string;
      features?: string[];
      standardize?: boolean;
      classes?: string[];
      /** Per-column overrides of the inferred types (docs/format-extensions.md, "CSV data"). */
      columns?: Record<string, CsvColumnSpec>;
      missing?: CsvMissingSpec;
      malformed?: 'error' | 'skip';
    } & SplitSpec)
  | ({ kind: 'idx'; images: string; labels?: string } & SplitSpec)
  | ({ kind: 'images'; folder: string; size: [number, number]; channels?: 1 | 3; classes?: string[] } & SplitSpec)
  | ({ kind: 'inline'; columns: Record<string, number[]>; label?: string } & SplitSpec);

export type CsvColumnType = 'numeric' | 'categorical' | 'text';

export interface CsvColumnSpec {
  type: CsvColumnType;
  /** Categorical features: one feature per category (`onehot`, the default) or the category's index (`index`). */
  encoding?: 'onehot' | 'index';
  /** The categories in index order (else the file's, in order of first appearance). */
  categories?: string[];
}

export interface CsvMissingSpec {
  policy: 'error' | 'drop' | 'mean' | 'constant';
  /** For `constant`: the value of a missing numeric cell. */
  value?: number;
}

export interface SplitSpec {
  validation?: number;
  shuffle?: boolean;
  standardize?: boolean;
  /** Standardise a `real` label too (docs/format-extensions.md, "Standardised labels"). */
  standardizeLabel?: boolean;
}
