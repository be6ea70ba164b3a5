// The basic shape of a resource.k8s.io/v1 ResourceClaimSpec, checked so a mistake points into
// the file. Deeper checks (CEL compiles, the device class exists) are the hub's.
import { dns1123LabelError, dns1123SubdomainError } from '@muster/k8s';
import { isMap, type DocumentReader, type YamlMap } from './document-reader';
import { childPath, describeValue } from './paths';

export const ALLOCATION_MODES = ['ExactCount', 'All'] as const;

/** The names of a claim's requests, which containers' `resources.claims[].request` may name. */
export interface CheckedClaimSpec {
  spec: YamlMap;
  requestNames: string[];
}

export function checkClaimSpec(
  reader: DocumentReader,
  spec: YamlMap,
  path: string,
): CheckedClaimSpec {
  const devices = reader.map(spec, path, 'devices', true);
  const devicesPath = childPath(path, 'devices');
  const requestsPath = childPath(devicesPath, 'requests');
  const requestNames: string[] = [];
  const subrequests = new Map<string, string[]>();
  reader.list(devices, devicesPath, 'requests', true).forEach((entry, i) => {
    const at = childPath(requestsPath, i);
    const request = deviceRequest(reader, entry, at, requestNames);
    requestNames.push(request.name);
    subrequests.set(request.name, request.subrequests);
  });
  const constraintsPath = childPath(devicesPath, 'constraints');
  reader.list(devices, devicesPath, 'constraints').forEach((entry, i) => {
    constraint(reader, entry, childPath(constraintsPath, i), subrequests);
  });
  return { spec, requestNames };
}

function deviceRequest(
  reader: DocumentReader,
  entry: unknown,
  path: string,
  earlier: readonly string[],
): { name: string; subrequests: string[] } {
  if (!isMap(entry))
    reader.fail(path, `must be a map with name and exactly (got ${describeValue(entry)})`);
  const name = requestName(reader, entry, path, earlier, 'request');
  if (entry.deviceClassName !== undefined) {
    // resource.k8s.io/v1beta1 put the device class on the request itself.
    reader.fail(
      childPath(path, 'deviceClassName'),
      'belongs under exactly in resource.k8s.io/v1 (exactly: {deviceClassName: ..., count: ...})',
    );
  }
  const hasExactly = entry.exactly !== undefined && entry.exactly !== null;
  const hasFirstAvailable = entry.firstAvailable !== undefined && entry.firstAvailable !== null;
  if (hasExactly === hasFirstAvailable) {
    reader.fail(
      path,
      hasExactly
        ? 'sets both exactly and firstAvailable; keep one'
        : 'needs exactly one of exactly (one kind of device) or firstAvailable (alternatives in order of preference)',
    );
  }
  if (hasExactly) {
    exactRequest(reader, reader.map(entry, path, 'exactly', true), childPath(path, 'exactly'));
    return { name, subrequests: [] };
  }
  const listPath = childPath(path, 'firstAvailable');
  const names: string[] = [];
  reader.list(entry, path, 'firstAvailable', true).forEach((sub, j) => {
    const at = childPath(listPath, j);
    if (!isMap(sub))
      reader.fail(at, `must be a map with name and deviceClassName (got ${describeValue(sub)})`);
    names.push(requestName(reader, sub, at, names, 'subrequest'));
    exactRequest(reader, sub, at);
  });
  return { name, subrequests: names };
}

function requestName(
  reader: DocumentReader,
  entry: YamlMap,
  path: string,
  earlier: readonly string[],
  what: string,
): string {
  const namePath = childPath(path, 'name');
  const name = reader.string(entry, path, 'name');
  if (name === undefined) reader.fail(namePath, `is required; containers name the ${what} by it`);
  const error = dns1123LabelError(name);
  if (error) reader.fail(namePath, `${what} name ${error} (got ${JSON.stringify(name)})`);
  if (earlier.includes(name)) reader.fail(namePath, `duplicate ${what} name "${name}"`);
  return name;
}

/** An `exactly` request, or one `firstAvailable` alternative: both say which devices and how many. */
function exactRequest(reader: DocumentReader, request: YamlMap, path: string): void {
  const classPath = childPath(path, 'deviceClassName');
  const deviceClass = reader.string(request, path, 'deviceClassName');
  if (deviceClass === undefined)
    reader.fail(classPath, 'is required: the DeviceClass to allocate from, e.g. gpu.example.com');
  const classError = dns1123SubdomainError(deviceClass);
  if (classError) reader.fail(classPath, `${classError} (got ${JSON.stringify(deviceClass)})`);
  const mode = reader.string(request, path, 'allocationMode');
  if (mode !== undefined && !(ALLOCATION_MODES as readonly string[]).includes(mode)) {
    reader.fail(
      childPath(path, 'allocationMode'),
      `must be ${ALLOCATION_MODES.join(' or ')} (got ${JSON.stringify(mode)})`,
    );
  }
  const count = reader.positiveInt(request, path, 'count');
  if (count !== undefined && mode === 'All') {
    reader.fail(
      childPath(path, 'count'),
      'must not be set with allocationMode All (which takes every matching device)',
    );
  }
  const selectorsPath = childPath(path, 'selectors');
  reader.list(request, path, 'selectors').forEach((selector, k) => {
    const at = childPath(selectorsPath, k);
    if (!isMap(selector))
      reader.fail(
        at,
        `must be a map such as {cel: {expression: ...}} (got ${describeValue(selector)})`,
      );
    const cel = reader.map(selector, at, 'cel', true);
    const expression = reader.string(cel, childPath(at, 'cel'), 'expression');
    if (expression === undefined || expression.trim() === '') {
      reader.fail(
        childPath(childPath(at, 'cel'), 'expression'),
        'is required: a CEL expression such as device.attributes["gpu.example.com"].model == "A100"',
      );
    }
  });
}

function constraint(
  reader: DocumentReader,
  entry: unknown,
  path: string,
  subrequests: ReadonlyMap<string, readonly string[]>,
): void {
  if (!isMap(entry))
    reader.fail(
      path,
      `must be a map with requests and matchAttribute (got ${describeValue(entry)})`,
    );
  const match = reader.string(entry, path, 'matchAttribute');
  const distinct = reader.string(entry, path, 'distinctAttribute');
  if (match === undefined && distinct === undefined) {
    reader.fail(
      path,
      'needs matchAttribute (an attribute all the devices share, e.g. gpu.example.com/numa)',
    );
  }
  const requestsPath = childPath(path, 'requests');
  reader.list(entry, path, 'requests').forEach((ref, k) => {
    const at = childPath(requestsPath, k);
    if (typeof ref !== 'string')
      reader.fail(at, `must be a request name (got ${describeValue(ref)})`);
    // "gpu" names a request; "gpu/small" one alternative of a firstAvailable request.
    const [request, sub, ...more] = ref.split('/');
    const alternatives = subrequests.get(request!);
    const known =
      alternatives !== undefined &&
      more.length === 0 &&
      (sub === undefined || alternatives.includes(sub));
    if (!known) {
      reader.fail(
        at,
        `no request named ${JSON.stringify(ref)} (requests: ${[...subrequests.keys()].join(', ')})`,
      );
    }
  });
}
