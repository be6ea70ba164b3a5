export * from './cluster-profile.types';
export * from './cluster-profile.access';
