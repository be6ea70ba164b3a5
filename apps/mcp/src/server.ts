// One MCP server over one hub connection: Muster's read-only tools and nothing else.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ReadOnlyHub } from './hub/read-only-hub';
import { registerMusterTools } from './tools/muster-tools';

/** The version assistants see in the MCP handshake. */
export const MCP_SERVER_VERSION = '0.1.0';

export function musterMcpServer(hub: ReadOnlyHub): McpServer {
  const server = new McpServer(
    { name: 'muster', title: 'Muster (read-only)', version: MCP_SERVER_VERSION },
    {
      instructions:
        'Read-only view of a Muster hub: jobs (gangs), why they wait, clusters, queues and cohorts. Nothing here changes the fleet; tell the person which muster CLI command would.',
    },
  );
  registerMusterTools(server, hub);
  return server;
}
