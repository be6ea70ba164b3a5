export * from './labels';
export * from './names';
export * from './pod-template';
export * from './cluster-profile';
