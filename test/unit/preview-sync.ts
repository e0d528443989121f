/** data.preview's description of a project's data, loaded synchronously (loadDataset), for the tests. */
import { loadDataset } from '../../engine/data/load';
import { dataOptions } from '../../engine/host/job-data';
import { describeDataset } from '../../engine/host/preview';
import { withDataDefaults, withTrainingDefaults, type Project } from '../../engine/io/project';
import type { DataPreview } from '../../engine/protocol/messages';
import { StudioError } from '../../engine/util/errors';

export function previewData(project: Project, baseDir: string | undefined): DataPreview {
  if (!project.data) throw new StudioError('the project has no data section: choose a dataset', { path: 'data' });
  const data = withDataDefaults(project.data);
  const ds = loadDataset(data, dataOptions(data, baseDir, withTrainingDefaults(project.training).seed));
  return describeDataset(ds, project);
}
