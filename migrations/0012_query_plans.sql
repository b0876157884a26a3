-- Indexes for searches that read a whole city's rows without them (issue 17 item 3; the
-- test tests/blackbox/tests/query_plans.rs explains every query of the hot paths against
-- 100,000 rows). The city leads every index, as in every key of the schema.

-- payments/_search?billIds=: the live-bill index holds only live payments.
CREATE INDEX egcl_paymentdetail_bill ON egcl_paymentdetail (tenant_id, bill_id);

-- payments/_search?mobileNumber= (the column holds the mobile's blind index).
CREATE INDEX egcl_payment_mobile ON egcl_payment (tenant_id, mobile_number);

-- demand/_search?consumerCode= without a businessService.
CREATE INDEX egbs_demand_consumer_code ON egbs_demand (tenant_id, consumer_code);
