import {
  UtilisationBucket,
  UtilisationGroupBy,
  type GetUtilisationRequest,
  type GetUtilisationResponse,
  type UtilisationGroup as WireGroup,
} from '@muster/api';
import { assertNever, invalidArgument } from '../common/errors';
import type {
  UtilisationBucketSize,
  UtilisationGroup,
  UtilisationGroupBy as GroupBy,
  UtilisationQuery,
  UtilisationReport,
} from './utilisation';

/** The resource a request without one asks about. */
export const DEFAULT_UTILISATION_RESOURCE = 'nvidia.com/gpu';
const MAX_RESOURCE = 253 + 1 + 63;

function groupByToDomain(v: UtilisationGroupBy): GroupBy {
  switch (v) {
    case UtilisationGroupBy.UTILISATION_GROUP_BY_UNSPECIFIED:
    case UtilisationGroupBy.UTILISATION_GROUP_BY_CLUSTER:
      return 'cluster';
    case UtilisationGroupBy.UTILISATION_GROUP_BY_QUEUE:
      return 'queue';
    default:
      throw invalidArgument('group_by', `unknown value ${String(v)}; use cluster or queue`);
  }
}

function bucketToDomain(v: UtilisationBucket): UtilisationBucketSize {
  switch (v) {
    case UtilisationBucket.UTILISATION_BUCKET_UNSPECIFIED:
    case UtilisationBucket.UTILISATION_BUCKET_HOUR:
      return 'hour';
    case UtilisationBucket.UTILISATION_BUCKET_DAY:
      return 'day';
    default:
      throw invalidArgument('bucket', `unknown value ${String(v)}; use hour or day`);
  }
}

/** A checked request; `queues` is filled in by the service from the caller. */
export function utilisationQueryToDomain(
  req: GetUtilisationRequest,
  now: Date = new Date(),
): Omit<UtilisationQuery, 'queues'> {
  if (!req.since) throw invalidArgument('since', 'is required');
  const since = req.since;
  const until = req.until ?? now;
  if (Number.isNaN(since.getTime())) throw invalidArgument('since', 'is not a valid time');
  if (Number.isNaN(until.getTime())) throw invalidArgument('until', 'is not a valid time');
  if (until.getTime() <= since.getTime()) throw invalidArgument('until', 'must be after since');
  const resource = req.resource ?? DEFAULT_UTILISATION_RESOURCE;
  if (resource === '' || resource.length > MAX_RESOURCE || /\s/.test(resource))
    throw invalidArgument('resource', 'must be a resource name such as nvidia.com/gpu');
  return {
    since,
    until: until.getTime() > now.getTime() ? now : until,
    untilNow: until.getTime() >= now.getTime(),
    resource,
    groupBy: groupByToDomain(req.groupBy),
    bucket: bucketToDomain(req.bucket),
  };
}

function groupToProto(g: UtilisationGroup): WireGroup {
  return {
    name: g.name,
    total: g.total,
    buckets: g.buckets.map((b) => ({ start: b.start, figures: b.figures })),
  };
}

export function utilisationReportToProto(
  q: UtilisationQuery,
  r: UtilisationReport,
): GetUtilisationResponse {
  return {
    since: r.since,
    until: r.until,
    resource: q.resource,
    groupBy: groupByToProto(q.groupBy),
    bucket:
      q.bucket === 'day'
        ? UtilisationBucket.UTILISATION_BUCKET_DAY
        : UtilisationBucket.UTILISATION_BUCKET_HOUR,
    groups: r.groups.map(groupToProto),
    total: groupToProto(r.total),
  };
}

function groupByToProto(g: GroupBy): UtilisationGroupBy {
  switch (g) {
    case 'cluster':
      return UtilisationGroupBy.UTILISATION_GROUP_BY_CLUSTER;
    case 'queue':
      return UtilisationGroupBy.UTILISATION_GROUP_BY_QUEUE;
    default:
      return assertNever(g);
  }
}
