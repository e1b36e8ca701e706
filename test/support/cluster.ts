export async function stopSharedCluster(): Promise<void> {}
