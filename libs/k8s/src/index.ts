export * from './names';
export * from './pod-template';
