"""What users ask: who-has, status, and (later) erasure, Article 30 records, audit."""
