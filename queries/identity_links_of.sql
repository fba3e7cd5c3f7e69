-- One hop of the identity graph: the references linked to $ref, with when the link was
-- recorded (an index lookup; the caller walks the component and applies the time bound).
SELECT linked_ref, occurred_at
FROM identity_links
WHERE subject_ref = $ref;
