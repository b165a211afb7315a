// A job's statuses, in the order of its life; apart from the schemas, so that the dashboard's
// page can name them without bundling zod.
// held: not to be claimed yet: held by the user (-hold) or waiting for jobs (-after).
export const JobStatuses = ['held', 'ready', 'assigned', 'init', 'running', 'done', 'failed'] as const;
export type JobStatus = (typeof JobStatuses)[number];
