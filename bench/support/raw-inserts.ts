// The raw limit of the submit path, measured beside the hub in the same run: single-row INSERT
// transactions of a job-sized row (the same jsonb payload) from many connections, into a table
// of its own in the hub's database.
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { timedPool } from './figures';

export async function rawInserts(
  url: string,
  rows: number,
  connections: number,
  gang: unknown,
): Promise<{ seconds: number; latencies: number[] }> {
  const pool = new Pool({ connectionString: url, max: connections });
  try {
    await pool.query(
      `CREATE TABLE raw_inserts (id uuid PRIMARY KEY, client_request_id text UNIQUE, gang jsonb, created_at timestamptz DEFAULT now())`,
    );
    const payload = JSON.stringify(gang);
    return await timedPool(rows, connections, async () => {
      await pool.query(
        'INSERT INTO raw_inserts (id, client_request_id, gang) VALUES ($1, $2, $3)',
        [randomUUID(), randomUUID(), payload],
      );
    });
  } finally {
    await pool.end();
  }
}
