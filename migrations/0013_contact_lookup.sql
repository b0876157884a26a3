-- A payer found by mobile number or email anywhere in a state (fetch-bill and bill search
-- by mobile number, "my bills"): citizens live at the state tenant and employees at its
-- cities, so the look-up names no single city and the (tenant_id, mobile_number) index
-- could only be read whole. The contact (its blind index) leads these two; the tenant
-- second keeps the state's own rows apart from another state's.
CREATE INDEX eg_user_contact_mobile ON eg_user (mobile_number, tenant_id);
CREATE INDEX eg_user_contact_email ON eg_user (email_id, tenant_id);
